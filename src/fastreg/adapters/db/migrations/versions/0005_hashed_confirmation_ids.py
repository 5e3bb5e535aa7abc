"""confirmation ids stored hashed

The id in a confirmation's URL is a bearer secret: the table now keeps its SHA-256 digest (``id``) and the seed
it is derived from with the platform's secret key (``seed``). Existing ids, and the references to them, are
replaced by their digests; an existing confirmation still pending cannot have its URL shown again (its raw id
is not derivable), so it is expired: the page that showed it offers a new one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 19:20:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column) holding a confirmation id.
REFERENCES = (
    ("registrations", "scan_confirmation_id"),
    ("registrations", "admin_confirmation_id"),
    ("verification_tasks", "confirmation_id"),
)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def upgrade() -> None:
    op.add_column("confirmations", sa.Column("seed", sa.String(length=32), nullable=True))
    connection = op.get_bind()
    for (old,) in connection.execute(sa.text("SELECT id FROM confirmations")).all():
        connection.execute(
            sa.text(
                "UPDATE confirmations SET id = :new, expires_at = CASE WHEN status = 'pending' "
                "THEN created_at ELSE expires_at END WHERE id = :old"
            ),
            {"new": _digest(old), "old": old},
        )
        for table, column in REFERENCES:
            connection.execute(
                sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old"), {"new": _digest(old), "old": old}
            )


def downgrade() -> None:
    # The raw ids are not recoverable from their digests: the confirmations stay as they are, without seeds.
    op.drop_column("confirmations", "seed")
