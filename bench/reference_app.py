"""The bare reference app of ``bench/throughput.py``: FastAPI, one endpoint that does one single-row insert and
commit on the same database as fastreg (same engine settings: SQLite in WAL mode with ``synchronous=NORMAL``
and ``BEGIN IMMEDIATE`` write transactions, or PostgreSQL through psycopg 3), and a bare ``GET /healthz``.

Run by the bench as ``uvicorn bench.reference_app:create_app --factory`` with ``FASTREG_DATABASE_URL`` set.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Column, Integer, MetaData, String, Table

from fastreg.adapters.db.engine import build_engine

metadata = MetaData()
rows = Table(
    "bench_reference_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("payload", String(64), nullable=False),
)


def create_app() -> FastAPI:
    engine = build_engine(os.environ["FASTREG_DATABASE_URL"])
    metadata.create_all(engine)
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.post("/insert")
    def insert() -> JSONResponse:
        with engine.begin() as conn:
            new_id = conn.execute(rows.insert().values(payload="x" * 32)).inserted_primary_key
        return JSONResponse({"errcode": 0, "id": new_id[0] if new_id else None})

    return app
