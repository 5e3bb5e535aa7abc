"""verification tasks (代认证, wxa/sec/wxaauth)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fastreg.adapters.db.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taskid", sa.String(length=64), nullable=False),
        sa.Column("mp_id", sa.Integer(), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=True),
        sa.Column("confirmation_id", sa.String(length=64), nullable=False),
        sa.Column("task_status", sa.Integer(), nullable=False),
        sa.Column("apply_status", sa.Integer(), nullable=False),
        sa.Column("orderid", sa.Integer(), nullable=False),
        sa.Column("auth_data", sa.JSON(), nullable=False),
        sa.Column("fail_reason", sa.Text(), nullable=True),
        sa.Column("created_at", fastreg.adapters.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", fastreg.adapters.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", fastreg.adapters.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_verification_tasks_component_id_components")
        ),
        sa.ForeignKeyConstraint(
            ["mp_id"], ["mini_programs.id"], name=op.f("fk_verification_tasks_mp_id_mini_programs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_tasks")),
        sa.UniqueConstraint("taskid", name=op.f("uq_verification_tasks_taskid")),
    )
    with op.batch_alter_table("verification_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verification_tasks_mp_id"), ["mp_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verification_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_tasks_mp_id"))
    op.drop_table("verification_tasks")
