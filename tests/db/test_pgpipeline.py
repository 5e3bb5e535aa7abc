"""PostgreSQL: prepared statements sent through libpq's pipeline (``adapters.db.pgpipeline``). A batch is one
round trip and begins the transaction; a deferred one goes with the next round trip (the COMMIT's), or never
when its transaction is rolled back; a database error is raised at the batch's end, leaves the later
statements undone and the connection usable once rolled back; a statement whose PREPARE failed is prepared
again; an interrupted wait leaves pipeline mode; and the same code runs on psycopg's asyncio connections
inside a greenlet."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from bench.pipeline import PsycopgPipelineBatch
from psycopg import pq
from psycopg.waiting import wait as blocking_wait
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, bindparam, func, insert, select, text

from fastreg.adapters.db.engine import build_engine, build_loop_engine
from fastreg.adapters.db.pgpipeline import PostgresBatch, Waiter, multi_row_sql
from fastreg.adapters.db.prepared import MULTI_ROW_MAX, PreparedConnection, RideAlong
from fastreg.adapters.db.uow import run_on_connection
from fastreg.platform import Platform, build_platform
from fastreg.settings import Settings

metadata = MetaData()
items = Table("pipeline_items", metadata, Column("id", Integer, primary_key=True), Column("name", String(20)))
late = Table("pipeline_late", metadata, Column("id", Integer, primary_key=True))

ADD = insert(items).returning(items.c.id)
NAMES = select(items.c.name).where(items.c.id <= bindparam("upto")).order_by(items.c.id)
LATE_COUNT = select(late.c.id).where(late.c.id > bindparam("above"))


@pytest.fixture
def pg(postgres_url: str, tmp_path: Any) -> Iterator[Platform]:
    engine = build_engine(postgres_url)
    metadata.drop_all(engine)
    items.create(engine)
    yield build_platform(Settings(database_url=postgres_url, data_dir=tmp_path, sandbox_key="k"), engine=engine)
    metadata.drop_all(engine)
    engine.dispose()


@contextmanager
def begun(pg: Platform, wait: Waiter | None = None) -> Iterator[tuple[Connection, PreparedConnection]]:
    """A connection in a SQLAlchemy transaction, as a unit of work holds one (begun on the wire by the first
    batch), and the prepared statements' runner on it."""
    with pg.engine.connect() as connection:
        connection.begin()
        yield connection, PreparedConnection(connection, wait=wait)


class CountingWait:
    """The blocking wait, counting the round trips it waits for."""

    def __init__(self) -> None:
        self.round_trips = 0

    def __call__(self, gen: Any, fileno: int) -> Any:
        self.round_trips += 1
        return blocking_wait(gen, fileno)


def test_a_batch_is_one_round_trip_and_begins_the_transaction(pg: Platform) -> None:
    counting = CountingWait()
    with begun(pg, wait=counting) as (connection, conn):
        with conn.batch():
            added = [conn.execute(ADD, {"id": n, "name": f"n{n}"}) for n in (1, 2, 3)]
            names = conn.execute(NAMES, {"upto": 2})
        assert counting.round_trips == 1
        assert [rows.scalar_one() for rows in added] == [1, 2, 3]
        assert [row.name for row in names.rows] == ["n1", "n2"]
        assert connection.connection.driver_connection.pgconn.transaction_status == pq.TransactionStatus.INTRANS
        connection.rollback()  # the batch's BEGIN opened a real transaction: nothing stays
    with pg.engine.connect() as connection:
        assert connection.execute(select(items.c.id)).all() == []


def test_looking_at_a_result_inside_a_batch_sends_what_is_queued(pg: Platform) -> None:
    counting = CountingWait()
    with begun(pg, wait=counting) as (connection, conn):
        with conn.batch():
            first = conn.execute(ADD, {"id": 1, "name": "a"})
            assert first.scalar_one() == 1  # one round trip now
            conn.execute(ADD, {"id": 2, "name": "b"})
        assert counting.round_trips == 2
        connection.commit()
    with pg.engine.connect() as connection:
        assert connection.execute(select(items.c.name).order_by(items.c.id)).scalars().all() == ["a", "b"]


def test_deferred_statements_go_with_the_commit_in_one_round_trip(pg: Platform) -> None:
    counting = CountingWait()
    with begun(pg, wait=counting) as (connection, conn):
        assert conn.execute(NAMES, {"upto": 9}).rows == []  # BEGIN and a read: one round trip
        with conn.deferred():
            added = [conn.execute(ADD, {"id": n, "name": f"d{n}"}) for n in (1, 2)]
        assert counting.round_trips == 1  # nothing sent yet
        conn.commit()
        assert counting.round_trips == 2  # the inserts and the COMMIT together
        assert connection.connection.driver_connection.pgconn.transaction_status == pq.TransactionStatus.IDLE
        assert [rows.scalar_one() for rows in added] == [1, 2]
        connection.commit()
    with pg.engine.connect() as connection:
        assert connection.execute(select(items.c.name).order_by(items.c.id)).scalars().all() == ["d1", "d2"]


def test_deferred_statements_go_before_the_next_statement_and_when_their_result_is_asked(pg: Platform) -> None:
    counting = CountingWait()
    with begun(pg, wait=counting) as (connection, conn):
        with conn.deferred():
            conn.execute(ADD, {"id": 1, "name": "a"})
        assert [row.name for row in conn.execute(NAMES, {"upto": 9}).rows] == ["a"]  # in the read's round trip
        assert counting.round_trips == 1
        with conn.deferred():
            added = conn.execute(ADD, {"id": 2, "name": "b"})
        assert added.scalar_one() == 2 and counting.round_trips == 2
        connection.rollback()


def test_deferred_statements_of_a_rolled_back_unit_of_work_are_never_sent(pg: Platform) -> None:
    with pg.uow() as uow, uow.conn.deferred():
        added = uow.conn.execute(ADD, {"id": 1, "name": "dropped"})
    with pytest.raises(RuntimeError, match="discarded"):
        added.scalar_one()
    with pg.uow() as uow:
        with uow.conn.deferred():
            uow.conn.execute(ADD, {"id": 2, "name": "seen"})
        # The ORM's statements do not go through the batch: the deferred writes are sent before them.
        assert uow.session.execute(select(items.c.name)).scalars().all() == ["seen"]
        uow.commit()
    with pg.engine.connect() as connection:
        assert connection.execute(select(items.c.name)).scalars().all() == ["seen"]


def test_a_transaction_whose_batch_was_given_up_cannot_commit(pg: Platform) -> None:
    """An exception inside a batch drops its statements and those deferred before it; a caller that catches it
    and goes on cannot commit the rest half-done."""
    with pytest.raises(RuntimeError, match="only be rolled back"), pg.uow() as uow:
        with uow.conn.deferred():
            uow.conn.execute(ADD, {"id": 1, "name": "deferred"})
        try:
            with uow.conn.batch():
                uow.conn.execute(ADD, {"id": 2, "name": "in the failed batch"})
                raise LookupError("a bug in the caller")
        except LookupError:
            pass
        uow.conn.execute(ADD, {"id": 3, "name": "after"})
        uow.commit()
    with pg.engine.connect() as connection:
        assert connection.execute(select(items.c.name)).scalars().all() == []


def test_an_error_in_a_deferred_statement_is_raised_by_the_commit_and_nothing_lands(pg: Platform) -> None:
    with pg.uow() as uow:
        uow.conn.execute(ADD, {"id": 1, "name": "first"})
        uow.commit()
    with pytest.raises(psycopg.errors.UniqueViolation), pg.uow() as uow:
        with uow.conn.deferred():
            uow.conn.execute(ADD, {"id": 2, "name": "second"})
            uow.conn.execute(ADD, {"id": 1, "name": "again"})
        uow.commit()
    with pg.engine.connect() as connection:
        assert connection.execute(select(items.c.name)).scalars().all() == ["first"]


def test_an_error_is_raised_at_the_end_of_the_batch_and_the_connection_stays_usable(pg: Platform) -> None:
    with begun(pg) as (connection, conn):
        conn.execute(ADD, {"id": 1, "name": "a"})
        connection.commit()
        connection.begin()
        with pytest.raises(psycopg.errors.UniqueViolation), conn.batch():
            conn.execute(ADD, {"id": 2, "name": "b"})
            conn.execute(ADD, {"id": 1, "name": "again"})  # fails: the batch's transaction is failed
            conn.execute(ADD, {"id": 3, "name": "c"})
        pgconn = connection.connection.driver_connection.pgconn
        assert pgconn.pipeline_status == pq.PipelineStatus.OFF
        connection.rollback()
        connection.begin()
        assert conn.execute(NAMES, {"upto": 9}).rows == [("a",)]  # the same connection, still prepared


def test_a_statement_whose_prepare_failed_is_prepared_again(pg: Platform) -> None:
    with begun(pg) as (connection, conn):
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute(LATE_COUNT, {"above": 0})
        connection.rollback()
        connection.begin()
        late.create(connection)
        connection.execute(insert(late), [{"id": 1}, {"id": 2}])
        assert [row.id for row in conn.execute(LATE_COUNT, {"above": 1}).rows] == [2]
        connection.rollback()


def test_an_interrupted_wait_leaves_pipeline_mode(pg: Platform) -> None:
    def interrupted(gen: Any, fileno: int) -> Any:
        next(gen)  # everything is sent; the answers are on their way
        return gen.throw(KeyboardInterrupt())

    with begun(pg, wait=interrupted) as (connection, conn):
        with pytest.raises(KeyboardInterrupt):
            conn.execute(NAMES, {"upto": 1})
        pgconn = connection.connection.driver_connection.pgconn
        assert pgconn.pipeline_status == pq.PipelineStatus.OFF
        assert not pgconn.is_busy()
        connection.rollback()
        connection.begin()
        assert connection.execute(text("SELECT 41 + 1")).scalar_one() == 42
        assert PreparedConnection(connection).execute(NAMES, {"upto": 1}).rows == []


def test_savepoints_on_the_driver(pg: Platform) -> None:
    with begun(pg) as (connection, conn):
        conn.execute(ADD, {"id": 1, "name": "kept"})
        conn.execute_driver("SAVEPOINT probe")
        conn.execute(ADD, {"id": 2, "name": "undone"})
        conn.execute_driver("ROLLBACK TO SAVEPOINT probe")
        connection.commit()
    with pg.engine.connect() as connection:
        assert connection.execute(select(items.c.name)).scalars().all() == ["kept"]


def test_the_same_statements_on_asyncio_connections_in_a_greenlet(pg: Platform) -> None:
    """How ``WriteGroups`` runs a use case on PostgreSQL: units of work on the loop's own engine."""

    def use_case() -> list[str]:
        with pg.uow() as uow:
            assert isinstance(uow.conn._dbapi, psycopg.AsyncConnection)
            with uow.conn.batch():
                for n in (1, 2):
                    uow.conn.execute(ADD, {"id": n, "name": f"g{n}"})
                names = uow.conn.execute(NAMES, {"upto": 5})
            uow.session.execute(insert(items).values(id=3, name="orm"))
            uow.commit()
            return [row.name for row in names.rows]

    async def main() -> list[str]:
        loop_engine = build_loop_engine(pg.engine, pool_size=2)
        try:
            async with loop_engine.connect() as connection:  # as the runner runs it
                result: list[str] = await connection.run_sync(run_on_connection, use_case)
                return result
        finally:
            await loop_engine.dispose()

    assert asyncio.run(main()) == ["g1", "g2"]
    with pg.uow(readonly=True) as uow:  # the thread-side engine sees the committed rows
        assert [row.name for row in uow.conn.execute(NAMES, {"upto": 5}).rows] == ["g1", "g2", "orm"]


def test_psycopg_clearing_its_own_prepared_statements_leaves_ours(pg: Platform) -> None:
    """psycopg sends DEALLOCATE ALL after DDL when it has prepared statements of its own; its engines are
    set to prepare none, so the pipeline's statements stay prepared."""
    with begun(pg) as (connection, conn):
        assert conn.execute(NAMES, {"upto": 1}).rows == []
        for _ in range(6):  # psycopg's threshold for preparing a statement of its own is 5 runs
            connection.execute(text("SELECT count(*) FROM pipeline_items")).scalar_one()
        connection.execute(text("CREATE TABLE pipeline_late (id integer primary key)"))
        connection.execute(text("DROP TABLE pipeline_late"))
        connection.commit()
        connection.begin()
        assert conn.execute(NAMES, {"upto": 1}).rows == []
        connection.rollback()


SLEEP = select(func.pg_sleep(bindparam("seconds")))


def test_a_call_cancelled_while_it_waits_leaves_its_connection_clean(pg: Platform) -> None:
    """A request's task cancelled (the server stopping) while its statement runs: the wait ends, the
    transaction is rolled back, and the loop engine's connection serves the next call."""
    outcomes: list[str] = []

    def sleeper() -> None:
        with pg.uow() as uow:
            uow.conn.execute(ADD, {"id": 1, "name": "never"})
            uow.conn.execute(SLEEP, {"seconds": 0.5})
            uow.commit()

    def count() -> int:
        with pg.uow(readonly=True) as uow:
            return len(uow.conn.execute(NAMES, {"upto": 9}).rows)

    async def main() -> int:
        loop_engine = build_loop_engine(pg.engine, pool_size=1)  # one connection: the next call reuses it
        try:
            async with loop_engine.connect() as connection:
                task = asyncio.ensure_future(connection.run_sync(run_on_connection, sleeper))
                await asyncio.sleep(0.1)
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    outcomes.append("cancelled")
            async with loop_engine.connect() as connection:
                return int(await connection.run_sync(run_on_connection, count))
        finally:
            await loop_engine.dispose()

    assert asyncio.run(main()) == 0
    assert outcomes == ["cancelled"]


def test_a_blocking_wait_sleeps_on_the_socket_instead_of_polling(pg: Platform) -> None:
    """A worker thread waiting for PostgreSQL holds no CPU (psycopg 3.3's wait polls without sleeping unless it
    is given an interval: a busy loop that would also fight the event loop for the GIL)."""
    with begun(pg) as (connection, conn):
        started, cpu_started = time.perf_counter(), time.thread_time()
        conn.execute(SLEEP, {"seconds": 0.4})
        waited, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        connection.rollback()
    assert waited >= 0.4
    assert cpu < 0.1, f"{cpu * 1000:.0f} ms of CPU for a 400 ms wait"


def test_a_few_rows_inserted_together_go_as_one_statement_many_as_one_round_trip(pg: Platform) -> None:
    counting = CountingWait()
    with begun(pg, wait=counting) as (connection, conn):
        two = conn.execute(insert(items), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
        many = conn.execute(insert(items), [{"id": n, "name": f"n{n}"} for n in range(3, 3 + MULTI_ROW_MAX + 1)])
        assert (two.rowcount, many.rowcount) == (2, MULTI_ROW_MAX + 1)
        assert counting.round_trips == 2
        names = conn.execute(NAMES, {"upto": 100}).rows
        assert [row.name for row in names] == ["a", "b", *[f"n{n}" for n in range(3, 3 + MULTI_ROW_MAX + 1)]]
        connection.rollback()


def test_multi_row_sql() -> None:
    assert (
        multi_row_sql(b"INSERT INTO t (a, b) VALUES ($1::INTEGER, $2)", 2, 3)
        == b"INSERT INTO t (a, b) VALUES ($1::INTEGER, $2), ($3::INTEGER, $4), ($5::INTEGER, $6)"
    )
    assert multi_row_sql(b"INSERT INTO t (a) VALUES ($1) RETURNING t.id", 1, 2) is None
    assert multi_row_sql(b"INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO NOTHING", 1, 2) is None
    upsert = b"INSERT INTO t (a, n) VALUES ($1, $2) ON CONFLICT (a) DO UPDATE SET n = (t.n + $2)"
    assert multi_row_sql(upsert, 2, 2) is None
    assert (
        multi_row_sql(b"INSERT INTO t (a) VALUES (lower($1))", 1, 2)
        == b"INSERT INTO t (a) VALUES (lower($1)), (lower($2))"
    )


def test_a_batch_given_up_before_it_was_sent_leaves_its_statements_unprepared(pg: Platform) -> None:
    fresh = select(items.c.id).where(items.c.name == bindparam("name"))  # not prepared on any connection yet
    with begun(pg) as (connection, conn):
        with pytest.raises(RuntimeError), conn.batch():
            conn.execute(fresh, {"name": "a"})
            raise RuntimeError("the use case fails before its batch is sent")
        connection.rollback()
        connection.begin()
        conn.execute(ADD, {"id": 1, "name": "a"})
        assert conn.execute(fresh, {"name": "a"}).scalar_one() == 1  # prepared now, then run
        connection.rollback()


class Seen(Exception):
    pass


def riding(found: list[list[str]], *, refuse: bool = False) -> RideAlong:
    """A ride reading the names up to 9, recording them; raising ``Seen`` once read when ``refuse``."""

    def check(rows: list[Any]) -> None:
        found.append([row.name for row in rows])
        if refuse:
            raise Seen

    return RideAlong(NAMES, {"upto": 9}, check)


def test_a_ride_goes_with_the_first_round_trip_and_is_checked_before_its_answers_are_used(pg: Platform) -> None:
    with pg.engine.begin() as connection:
        connection.execute(insert(items), [{"id": 1, "name": "before"}])
    counting, found = CountingWait(), []
    with begun(pg, wait=counting) as (connection, conn):
        ride = riding(found)
        conn.ride_along(ride)
        with conn.batch():
            added = conn.execute(ADD, {"id": 2, "name": "added"})
            assert found == [] and ride.taken  # queued in this batch, not yet answered
        assert counting.round_trips == 1 and found == [["before"]]  # read ahead of the batch's own statements
        assert added.scalar_one() == 2
        assert len(conn.execute(NAMES, {"upto": 9}).rows) == 2
        assert counting.round_trips == 2 and found == [["before"]]  # once only
        connection.rollback()


def test_a_ride_refused_stops_the_unit_of_work_before_anything_lands(pg: Platform) -> None:
    found: list[list[str]] = []
    with pytest.raises(Seen), pg.uow() as uow:
        uow.conn.ride_along(riding(found, refuse=True))
        with uow.conn.batch():
            added = uow.conn.execute(ADD, {"id": 1, "name": "never"})
        added.scalar_one()  # pragma: no cover - the batch's end raised
    assert found == [[]]
    with pg.engine.connect() as connection:
        assert connection.execute(select(items.c.id)).all() == []


def test_a_ride_never_goes_with_deferred_writes_nor_after_the_orm(pg: Platform) -> None:
    """Deferred writes may go with the COMMIT, after which a check would come too late: the ride is sent on its
    own first. The ORM's statements do not go through the batches: the ride is sent before them."""
    counting, found = CountingWait(), []
    with begun(pg, wait=counting) as (connection, conn):
        conn.ride_along(riding(found, refuse=True))
        with pytest.raises(Seen), conn.deferred():
            conn.execute(ADD, {"id": 1, "name": "never"})  # pragma: no cover - the scope's start raised
        assert counting.round_trips == 1 and found == [[]]
        connection.rollback()
    found.clear()
    with pytest.raises(Seen), pg.uow() as uow:
        uow.conn.ride_along(riding(found, refuse=True))
        uow.session.execute(insert(items).values(id=2, name="never"))  # pragma: no cover - the ride came first
    assert found == [[]]
    with pg.engine.connect() as connection:
        assert connection.execute(select(items.c.id)).all() == []


def test_the_pipeline_bench_s_stand_in_has_the_batch_s_interface() -> None:
    # bench/pipeline.py runs the hot path with psycopg's pipeline in place of ``PostgresBatch``: every method the
    # prepared connection calls must be there with the same parameters, or the bench breaks unseen.
    public = [name for name in vars(PostgresBatch) if not name.startswith("_")]
    assert {"queue", "queue_command", "send", "discard"} <= set(public)
    for name in public:
        assert inspect.signature(getattr(PsycopgPipelineBatch, name)).parameters.keys() == (
            inspect.signature(getattr(PostgresBatch, name)).parameters.keys()
        ), name
