"""Ended dashboard sessions: a session signed out of is refused until its cookie would expire.

A session cookie is signed, not stored: signing out removes it from the browser, but a copy
taken before would still be genuine. Each cookie names a random session id; signing out records
that id here until the cookie's own expiry, and every dashboard request looks for it. Being in
the database, the record holds for every worker and process alike.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the ended_sessions table, one row per signed-out session until it expires."""
    op.execute(
        """
        CREATE TABLE ended_sessions (
            session_id  text        PRIMARY KEY,
            ended_at    timestamptz NOT NULL DEFAULT now(),
            expires_at  timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX ended_sessions_expiry ON ended_sessions (expires_at)")


def downgrade() -> None:
    """Drop the ended sessions."""
    op.execute("DROP TABLE ended_sessions")
