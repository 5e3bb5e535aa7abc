"""drop two indexes that repeat the first column of a unique index

``links.oa_id`` is the first column of the unique ``(oa_id, mp_id)`` index and ``authorizations.component_id`` of
the unique ``(component_id, authorizer_appid)`` one: both databases look those columns up through the unique
indexes, and every fast registration, which inserts a link and an authorization, no longer updates the copies.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_links_oa_id"))
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorizations_component_id"))


def downgrade() -> None:
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authorizations_component_id"), ["component_id"], unique=False)
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_links_oa_id"), ["oa_id"], unique=False)
