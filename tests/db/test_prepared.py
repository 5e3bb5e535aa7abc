"""The hot paths' statement runner (``adapters.db.prepared``) gives back what ``Connection.execute`` gives, on
SQLite and PostgreSQL: the same values and Python types (aware UTC datetimes, JSON, booleans, NULL), constant
column defaults, literal binds, executemany; its statements run inside the unit of work's transaction and reach
the engine's SQL hooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from fastreg.adapters.db.models import UTCDateTime
from fastreg.adapters.db.prepared import PreparedConnection, prepared
from fastreg.platform import Platform
from fastreg.testing import CallbackServer
from tests.api.world import World

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


# What a JSON column must keep as the standard library kept it: orjson refuses the first two (the engine's codec
# falls back then), and writes the others its own way.
AWKWARD_JSON: dict[str, Any] = {
    "beyond 64 bits": {"n": 2**70},
    "lone surrogate": {"s": "\ud800 left alone"},
    "non-string keys": {"1": "one", "2": "two"},
    "nested, unicode": {"sets": [{"id": 1, "name": "帐号管理"}], "empty": {}, "none": None, "float": 0.5},
}


@pytest.mark.parametrize("name", list(AWKWARD_JSON))
def test_json_columns_keep_what_the_standard_library_kept(probe_table: Platform, name: str) -> None:
    value = AWKWARD_JSON[name]
    with probe_table.uow() as uow:
        uow.conn.execute(INSERT, row(name, payload=value))
        uow.commit()
    with probe_table.uow(readonly=True) as uow:
        assert uow.conn.execute(BY_NAME, {"name": name}).one().payload == value
        assert uow.session.connection().execute(BY_NAME, {"name": name}).one().payload == value


def test_json_column_keys_that_are_not_strings_become_strings(probe_table: Platform) -> None:
    with probe_table.uow() as uow:
        uow.conn.execute(INSERT, row("int keys", payload={1: "one", None: "nothing"}))
        uow.commit()
    with probe_table.uow(readonly=True) as uow:
        assert uow.conn.execute(BY_NAME, {"name": "int keys"}).one().payload == {"1": "one", "null": "nothing"}


# Timestamps go to PostgreSQL in binary on the prepared path and as text through SQLAlchemy's: the same instant
# either way, whatever the zone given (a naive one is UTC), on both sides of PostgreSQL's epoch of 2000.
AWKWARD_TIMES = {
    "+08:00": datetime(2026, 12, 1, 7, 59, 59, 999999, tzinfo=timezone(timedelta(hours=8))),
    "naive": datetime(2026, 11, 30, 23, 0, 0, 1),
    "before 2000": datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "-09:30, year 1": datetime(1, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
    "9999": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
}


@pytest.mark.parametrize("name", list(AWKWARD_TIMES))
def test_timestamps_keep_their_instant_both_ways(probe_table: Platform, name: str) -> None:
    given = AWKWARD_TIMES[name]
    instant = given.astimezone(UTC) if given.tzinfo else given.replace(tzinfo=UTC)
    with probe_table.uow() as uow:
        uow.conn.execute(INSERT, [row(name + " fast", at=given), row(name + " other", at=None)])
        uow.session.connection().execute(INSERT, row(name + " orm", at=given))
        # compared on the server with a bound ``now``: the instant is where it was put
        assert uow.conn.execute(TOUCH, {"match": name + " fast", "now": given}).one().at == instant
        uow.commit()
    with probe_table.uow(readonly=True) as uow:
        for how in ("fast", "orm"):
            assert uow.conn.execute(BY_NAME, {"name": f"{name} {how}"}).one().at == instant
            assert uow.session.connection().execute(BY_NAME, {"name": f"{name} {how}"}).one().at == instant
        before = select(func.count()).select_from(probe).where(probe.c.at <= bindparam("now"))
        at_most = uow.conn.execute(before, {"now": given}).scalar_one()
        assert at_most == uow.session.connection().execute(before, {"now": given}).scalar_one()


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


def test_every_statement_reaches_the_engine_s_sql_hook(probe_table: Platform) -> None:
    """Single statements, executemany and savepoints are all announced to the engine's
    ``before_cursor_execute`` listeners (SQL logging, tracing), with their SQL and parameters."""
    seen: list[str] = []
    parameters: dict[str, Any] = {}

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        seen.append(statement)
        parameters[statement] = params

    event.listen(probe_table.engine, "before_cursor_execute", record)
    try:
        with probe_table.uow() as uow:
            uow.conn.execute(INSERT, [row("f"), row("g")])
            uow.conn.execute(BY_NAME, {"name": "f"}).one()
            uow.conn.execute_driver("SAVEPOINT probe")
            uow.commit()
    finally:
        event.remove(probe_table.engine, "before_cursor_execute", record)
    assert any(sql.startswith("INSERT INTO prepared_probe") for sql in seen), seen
    (select_sql,) = [sql for sql in seen if sql.startswith("SELECT prepared_probe.id")]
    bound = parameters[select_sql]
    assert list(bound.values() if isinstance(bound, dict) else bound) == ["f"]
    assert "SAVEPOINT probe" in seen


def test_a_column_whose_default_is_computed_must_be_given(probe_table: Platform) -> None:
    with probe_table.uow() as uow:
        values = row("e")
        del values["stamped"]
        with pytest.raises(ValueError, match="stamped"):
            uow.conn.execute(INSERT, values)


def test_the_runner_of_a_session_is_its_connection_s(probe_table: Platform) -> None:
    with probe_table.uow() as uow:
        assert isinstance(uow.conn, PreparedConnection)
        assert prepared(uow.conn) is uow.conn
        assert prepared(uow.session).connection is uow.session.connection()


# The hot path's statements, as ``before_cursor_execute`` sees them (the SQL's start).
FASTREGISTER_STATEMENTS = (
    "SELECT credentials.kind",  # the token with its OA, component and authorization
    "UPDATE credentials SET used_at",  # the ticket's claim
    "SELECT principals.type",  # the eligibility facts
    "INSERT INTO monthly_counters",
    "UPDATE principals SET mp_count",
    "INSERT INTO identifiers",
    "INSERT INTO mini_programs",
    "INSERT INTO links",
    "INSERT INTO registrations",
    "INSERT INTO audit_events",
    "INSERT INTO authorizations",
    "INSERT INTO credentials",  # the authorization code
)


def test_fastregister_through_the_api_reaches_the_sql_hook(world: World, fastreg_callback: CallbackServer) -> None:
    """``POST /cgi-bin/account/fastregister`` for a component with a callback URL (every real one has one):
    every statement of the hot path reaches a ``before_cursor_execute`` listener on the platform's engine, as an
    operator's SQL log would listen (on PostgreSQL too, where the call runs on the event loop's own engine and its
    statements go through libpq's pipeline)."""
    component = world.component(callback_url=fastreg_callback.url)
    oa = world.oa()
    token = world.authorize(component, oa)
    ticket = world.ticket(component, oa)
    engine = world.live.platform.engine
    seen: list[str] = []

    def record(_conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        answer = world.fastregister(token, ticket)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert answer["errcode"] == 0, answer
    missing = [start for start in FASTREGISTER_STATEMENTS if not any(sql.startswith(start) for sql in seen)]
    assert not missing, (missing, seen)
