"""API keys: stored only as hashes, with scopes, expiry, revocation and last use.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the api_keys table."""
    op.execute(
        """
        CREATE TABLE api_keys (
            key_id        text        PRIMARY KEY,
            name          text        NOT NULL,
            secret_hash   bytea       NOT NULL,
            scopes        text[]      NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            expires_at    timestamptz,
            revoked_at    timestamptz,
            last_used_at  timestamptz,
            replaced_by   text REFERENCES api_keys (key_id)
        )
        """
    )


def downgrade() -> None:
    """Drop the api_keys table."""
    op.execute("DROP TABLE api_keys")
