"""component fidelity: derived refresh tokens and auth_time, verify tickets valid 12 h, permission set 27

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 18:20:00

- ``authorizations.refresh_token_seed`` (the refresh token is derived from it and the platform's secret key;
  a new seed on every authorization) and ``authorizations.authorized_at`` (``auth_time``, from ``created_at``).
  A refresh token issued before stays valid through ``refresh_token_hash`` until the account authorizes again.
- Every component's current verify ticket becomes a ``verify_ticket`` credential, valid 12 h from its issue.
- The fast-registration permission set is 27 (25 is 开放平台账号管理): whatever held 25 for fast registration
  (a component's permission sets, an authorization's func_info) also holds 27.
"""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from fastreg.adapters.db.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SET, NEW_SET = 25, 27
VERIFY_TICKET_TTL = timedelta(hours=12)

authorizations = sa.table(
    "authorizations",
    sa.column("id", sa.Integer()),
    sa.column("refresh_token_seed", sa.String(64)),
    sa.column("func_info", sa.JSON()),
)
components = sa.table(
    "components",
    sa.column("id", sa.Integer()),
    sa.column("appid", sa.String(18)),
    sa.column("permission_sets", sa.JSON()),
    sa.column("verify_ticket", sa.String(128)),
    sa.column("verify_ticket_at", UTCDateTime(timezone=True)),
)
credentials = sa.table(
    "credentials",
    sa.column("token_hash", sa.String(64)),
    sa.column("kind", sa.String(24)),
    sa.column("subject", sa.String(254)),
    sa.column("component_id", sa.Integer()),
    sa.column("data", sa.JSON()),
    sa.column("issued_at", UTCDateTime(timezone=True)),
    sa.column("expires_at", UTCDateTime(timezone=True)),
    sa.column("used_at", UTCDateTime(timezone=True)),
)


def _with(sets: list[Any] | None, added: int) -> list[Any]:
    return sorted({*(sets or []), added})


def upgrade() -> None:
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refresh_token_seed", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("authorized_at", UTCDateTime(timezone=True), nullable=True))
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE authorizations SET authorized_at = created_at"))
    for row in conn.execute(sa.select(authorizations.c.id, authorizations.c.func_info)).all():
        values: dict[str, Any] = {"refresh_token_seed": secrets.token_hex(16)}
        if OLD_SET in (row.func_info or []):
            values["func_info"] = _with(row.func_info, NEW_SET)
        conn.execute(authorizations.update().where(authorizations.c.id == row.id).values(**values))
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.alter_column("refresh_token_seed", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("authorized_at", existing_type=UTCDateTime(timezone=True), nullable=False)

    now = datetime.now(UTC)
    for row in conn.execute(sa.select(components)).all():
        if OLD_SET in (row.permission_sets or []):
            conn.execute(
                components.update()
                .where(components.c.id == row.id)
                .values(permission_sets=_with(row.permission_sets, NEW_SET))
            )
        if row.verify_ticket:
            issued = row.verify_ticket_at or now
            conn.execute(
                credentials.insert().values(
                    token_hash=hashlib.sha256(row.verify_ticket.encode()).hexdigest(),
                    kind="verify_ticket",
                    subject=row.appid,
                    component_id=row.id,
                    data=None,
                    issued_at=issued,
                    expires_at=issued + VERIFY_TICKET_TTL,
                    used_at=None,
                )
            )


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(credentials.delete().where(credentials.c.kind == "verify_ticket"))
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.drop_column("authorized_at")
        batch_op.drop_column("refresh_token_seed")
