"""Engine creation for SQLite (embedded default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from fastreg.adapters.db.checkpoint import AUTOCHECKPOINT_PAGES


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def dump_json(value: Any) -> str:
    """A JSON column's text: by orjson, several times faster than the standard library on the hot path's columns
    (about 8 % of a registration's use case on SQLite, ``bench/usecase.py``); by the standard library for what
    orjson refuses (integers beyond 64 bits, strings with lone surrogates), as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def load_json(text: str | bytes) -> Any:
    """A JSON column's value: orjson, or the standard library for text orjson refuses (lone surrogates)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


# Every engine's JSON columns, sync and async, SQLite and PostgreSQL (SQLAlchemy hands them to psycopg).
JSON_CODEC: dict[str, Any] = {"json_serializer": dump_json, "json_deserializer": load_json}


def build_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=40,
        pool_pre_ping=False,
        connect_args=POSTGRES_CONNECT_ARGS,
        **JSON_CODEC,
    )


# psycopg prepares no statement of its own: the hot paths prepare theirs through libpq (``pgpipeline``), and
# psycopg, when its own prepared statements may be stale (after DDL such as the sandbox's reset), clears them
# with DEALLOCATE ALL, which would take ours along.
POSTGRES_CONNECT_ARGS: dict[str, Any] = {"prepare_threshold": None}


def build_loop_engine(engine: Engine, *, pool_size: int) -> AsyncEngine:
    """A PostgreSQL engine on psycopg's asyncio connections, to the same database as ``engine``, for the use
    cases an event loop runs itself (``fastreg.runner``): sync code run by ``AsyncConnection.run_sync``, whose
    waits on the network are the loop's. Its connections belong to the loop that opened them; dispose of it on
    that loop."""
    return create_async_engine(
        engine.url,
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        connect_args=POSTGRES_CONNECT_ARGS,
        **JSON_CODEC,
    )


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, **JSON_CODEC)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # A server checkpoints on a background thread (adapters.db.checkpoint); this is the fallback.
        cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the database's write lock at once, so two concurrent
        # check-then-update sequences (quota, pending, tickets) serialize instead of deadlocking.
        # Straight on the driver: this runs before every transaction, and exec_driver_sql costs ten times more.
        begin = "BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE"
        conn.connection.driver_connection.execute(begin)

    return engine
