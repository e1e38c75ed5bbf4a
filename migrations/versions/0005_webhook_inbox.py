"""The webhook inbox: authenticated vendor payloads that map to no contract event.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the webhook_inbox table, one row per (vendor, delivery key)."""
    op.execute(
        """
        CREATE TABLE webhook_inbox (
            id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            vendor        text        NOT NULL,
            delivery_key  text        NOT NULL,
            reason        text        NOT NULL,
            payload       jsonb       NOT NULL,
            received_at   timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT webhook_inbox_delivery_key UNIQUE (vendor, delivery_key)
        )
        """
    )


def downgrade() -> None:
    """Drop the webhook inbox."""
    op.execute("DROP TABLE webhook_inbox")
