"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from fastreg.adapters.db.engine import build_engine
from fastreg.adapters.db.migrate import current_revision
from fastreg.adapters.db.models import Base


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = build_engine(db_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert differences == []
        assert current_revision(engine) is not None
    finally:
        engine.dispose()


def test_single_pending_registration_is_a_partial_unique_index(db_url: str) -> None:
    engine = build_engine(db_url)
    try:
        indexes = {index["name"]: index for index in inspect(engine).get_indexes("registrations")}
        assert indexes["uq_registrations_one_pending"]["unique"]
    finally:
        engine.dispose()
