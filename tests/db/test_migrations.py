"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text

from fastreg.adapters.db.engine import build_engine
from fastreg.adapters.db.migrate import current_revision, upgrade
from fastreg.adapters.db.models import Authorization, Component, Confirmation, metadata, table_of
from fastreg.domain import secrets
from fastreg.domain.clock import FixedClock
from fastreg.domain.errors import DomainError
from fastreg.platform import build_platform
from fastreg.services import authorization, confirmations, tokens
from fastreg.services.credentials import CredentialKind
from fastreg.settings import Settings
from tests.pg import temporary_database


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = build_engine(db_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
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


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, to migrate step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        with temporary_database("fastreg_migration") as url:
            yield url


def test_0002_keeps_what_integrators_hold(fresh_url: str, tmp_path: Path) -> None:
    """Data written under 0001 works after 0002: the component's current verify ticket (valid 12 h from its
    issue), the refresh token issued by api_query_auth, and the fast-registration set (25 then, 27 now)."""
    issued = datetime(2026, 11, 10, 4, tzinfo=UTC)
    secret, refresh_token = "component-secret", "legacy-refresh-token"
    upgrade(fresh_url, "0001")
    engine = build_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(Component)).values(
                id=1,
                appid="wx00000000000000c1",
                secret_hash=secrets.token_hash(secret),
                name="legacy component",
                redirect_domain="tp.example.com",
                callback_url=None,
                published=True,
                permission_sets=[3, 17, 18, 25, 30, 31],
                token="t",
                encoding_aes_key="k" * 43,
                verify_ticket="ticket@@@legacy",
                verify_ticket_at=issued,
                created_at=issued,
            )
        )
        conn.execute(
            insert(table_of(Authorization)).values(
                component_id=1,
                authorizer_appid="wx00000000000000a1",
                refresh_token_hash=secrets.token_hash(refresh_token),
                func_info=[3, 25],
                created_at=issued,
            )
        )
    engine.dispose()
    upgrade(fresh_url)

    clock = FixedClock(issued + timedelta(hours=11))
    settings = Settings(database_url=fresh_url, data_dir=tmp_path, sandbox_key="k", public_url="http://testserver")
    platform = build_platform(settings, clock=clock)
    try:
        token = tokens.issue_component_token(platform, "wx00000000000000c1", secret, "ticket@@@legacy").token
        caller = tokens.check_authenticated(platform, token, [CredentialKind.COMPONENT_TOKEN])
        refreshed = authorization.refresh_authorizer_token(
            platform, caller, "wx00000000000000c1", "wx00000000000000a1", refresh_token
        )
        assert refreshed["authorizer_refresh_token"] == refresh_token
        with platform.uow(readonly=True) as uow:
            component = uow.session.execute(select(Component)).scalar_one()
            assert 27 in component.permission_sets and 25 in component.permission_sets
            row = uow.session.execute(select(Authorization)).scalar_one()
            assert row.func_info == [3, 25, 27] and row.authorized_at == issued and row.refresh_token_seed
        clock.set(issued + timedelta(hours=12, seconds=1))
        with pytest.raises(DomainError) as expired:
            tokens.issue_component_token(platform, "wx00000000000000c1", secret, "ticket@@@legacy")
        assert expired.value.errcode == 61005
    finally:
        platform.engine.dispose()


def test_0005_hashes_confirmation_ids(fresh_url: str, tmp_path: Path) -> None:
    """A confirmation stored under 0004 keeps its URL working after 0005 (looked up by the digest of its id),
    and one still pending is expired, since its URL cannot be shown again."""
    created = datetime(2026, 11, 10, 4, tzinfo=UTC)
    raw = "legacyConfirmationId123"
    upgrade(fresh_url, "0004")
    engine = build_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO confirmations (id, kind, account_appid, allowed_wxid, status, payload, created_at,"
                " expires_at) VALUES (:id, 'component_auth', 'wx00000000000000a1', 'wxid_admin', 'pending', '{}',"
                " :created, :expires)"
            ),
            {"id": raw, "created": created, "expires": created + timedelta(minutes=10)},
        )
    engine.dispose()
    upgrade(fresh_url)
    settings = Settings(database_url=fresh_url, data_dir=tmp_path, sandbox_key="k", public_url="http://testserver")
    platform = build_platform(settings, clock=FixedClock(created + timedelta(minutes=1)))
    try:
        with platform.uow(readonly=True) as uow:
            assert uow.session.execute(select(Confirmation.id)).scalar_one() == secrets.token_hash(raw)
        assert confirmations.describe(platform, raw).status == "expired"
    finally:
        platform.engine.dispose()
