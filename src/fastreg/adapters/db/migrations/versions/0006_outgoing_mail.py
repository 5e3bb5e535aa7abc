"""outgoing mail: the transactional outbox

A use case that sends mail queues it in its own transaction; the worker that delivers component pushes sends it
through the SMTP mailer after the commit, retrying with backoff while the SMTP server is unreachable.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fastreg.adapters.db.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", fastreg.adapters.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", fastreg.adapters.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", fastreg.adapters.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_mail")),
    )
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outgoing_mail_next_attempt_at"), ["next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outgoing_mail_next_attempt_at"))
    op.drop_table("outgoing_mail")
