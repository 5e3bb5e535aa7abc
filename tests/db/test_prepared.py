"""Prepared statements run on the DBAPI connection give back what ``Connection.execute`` gives, on SQLite and
PostgreSQL: the same values and Python types (aware UTC datetimes, JSON, booleans, NULL), constant column
defaults, literal binds, executemany; and they run inside the unit of work's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, bindparam, func, insert, select, update

from fastreg.adapters.db.models import UTCDateTime
from fastreg.adapters.db.prepared import PreparedConnection, prepared
from fastreg.platform import Platform

metadata = MetaData()
probe = Table(
    "prepared_probe",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False),
    Column("at", UTCDateTime(), nullable=True),
    Column("payload", JSON, nullable=True),
    Column("flag", Boolean, nullable=False, default=True),
    Column("stamped", UTCDateTime(), nullable=True, default=lambda: datetime.now(UTC)),
)

INSERT = insert(probe)
INSERT_RETURNING = insert(probe).returning(probe.c.id)
BY_NAME = select(probe.c.id, probe.c.name, probe.c.at, probe.c.payload, probe.c.flag).where(
    probe.c.name == bindparam("name")
)
# A literal in the WHERE clause and one name bound twice.
COUNT_FLAGGED = (
    select(func.count())
    .select_from(probe)
    .where(
        probe.c.flag.is_(True),
        probe.c.name != "skip",
        probe.c.at <= bindparam("now"),
        probe.c.stamped <= bindparam("now"),
    )
)
TOUCH = update(probe).where(probe.c.name == bindparam("match")).values(at=bindparam("now")).returning(probe.c.at)

AT = datetime(2026, 11, 30, 15, 59, 59, 123456, tzinfo=UTC)


@pytest.fixture
def probe_table(platform: Platform) -> Iterator[Platform]:
    metadata.drop_all(platform.engine)
    metadata.create_all(platform.engine)
    yield platform
    metadata.drop_all(platform.engine)


def row(name: str, **values: Any) -> dict[str, Any]:
    return {"name": name, "at": AT, "payload": {"sets": [1, 2], "zh": "小程序"}, "stamped": AT, **values}


def test_values_come_back_as_connection_execute_gives_them(probe_table: Platform) -> None:
    with probe_table.uow() as uow:
        new_id = uow.conn.execute(INSERT_RETURNING, row("a", flag=False)).scalar_one()
        uow.conn.execute(INSERT, row("b", at=None, payload=None))
        uow.commit()
    with probe_table.uow(readonly=True) as uow:
        fast = uow.conn.execute(BY_NAME, {"name": "a"}).one()
        reference = uow.session.connection().execute(BY_NAME, {"name": "a"}).one()
        assert tuple(fast) == tuple(reference)
        assert fast.id == new_id
        assert fast.at == AT and fast.at.tzinfo is not None
        assert fast.payload == {"sets": [1, 2], "zh": "小程序"}
        assert fast.flag is False
        empty = uow.conn.execute(BY_NAME, {"name": "b"}).one()
        assert (empty.at, empty.payload, empty.flag) == (None, None, True)  # flag: its constant default
        assert uow.conn.execute(BY_NAME, {"name": "nobody"}).first() is None


def test_literal_binds_repeated_names_rowcount_and_returning(probe_table: Platform) -> None:
    with probe_table.uow() as uow:
        uow.conn.execute(INSERT, [row("c"), row("d"), row("skip")])  # executemany
        counted = uow.conn.execute(COUNT_FLAGGED, {"now": AT}).scalar_one()
        assert counted == 2
        later = AT + timedelta(hours=1)
        touched = uow.conn.execute(TOUCH, {"match": "c", "now": later})
        assert touched.rowcount == 1
        assert touched.one().at == later
        assert uow.conn.execute(TOUCH, {"match": "nobody", "now": later}).rowcount == 0
        uow.commit()


def test_statements_run_inside_the_unit_of_work_transaction(probe_table: Platform) -> None:
    with probe_table.uow() as uow:
        uow.conn.execute(INSERT, row("rolled back"))
        assert uow.conn.execute(BY_NAME, {"name": "rolled back"}).first() is not None
        # no commit: leaving the unit of work rolls back
    with probe_table.uow(readonly=True) as uow:
        assert prepared(uow.session).execute(BY_NAME, {"name": "rolled back"}).first() is None


def test_a_column_whose_default_is_computed_must_be_given(probe_table: Platform) -> None:
    with probe_table.uow() as uow:
        values = row("e")
        del values["stamped"]
        with pytest.raises(ValueError, match="stamped"):
            uow.conn.execute(INSERT, values)
        assert isinstance(uow.conn, PreparedConnection)
