"""The end-to-end tests reuse the API tests' live servers (SQLite and PostgreSQL)."""

from tests.api.conftest import api, live, postgres_server, sandbox, world

__all__ = ["api", "live", "postgres_server", "sandbox", "world"]
