"""Inbox items can be replayed: when each was last replayed, and when a replay stored its events.

An item whose `mapped_at` is set has become contract events and is not replayed again; an item
still unmapped keeps its row, with the reason of its latest replay. Safe to run again on a
schema that has them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add replayed_at and mapped_at to webhook_inbox, and an index of the items still waiting."""
    op.execute(
        """
        ALTER TABLE webhook_inbox
            ADD COLUMN IF NOT EXISTS replayed_at timestamptz,
            ADD COLUMN IF NOT EXISTS mapped_at   timestamptz
        """
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS webhook_inbox_waiting ON webhook_inbox (id) "
        "WHERE mapped_at IS NULL"
    )


def downgrade() -> None:
    """Drop the replay columns."""
    op.execute("DROP INDEX webhook_inbox_waiting")
    op.execute("ALTER TABLE webhook_inbox DROP COLUMN replayed_at, DROP COLUMN mapped_at")
