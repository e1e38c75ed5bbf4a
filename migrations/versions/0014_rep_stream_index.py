"""An index of the reps' streams: names and profiles are read from them on every scoreboard by rep.

Reps' profiles are folded from their events on each read (`service/store/queries/profiles.py`).
Without an index the read scans the whole log (a tenth of a second at a million events, on
every cold scoreboard by rep); the reps' streams are a few events per rep, so a partial index
of them, in position order, is small and answers the read directly.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index the events of the `rep:` streams by position."""
    op.execute("CREATE INDEX events_rep_streams ON events (position) WHERE subject LIKE 'rep:%'")


def downgrade() -> None:
    """Drop the index."""
    op.execute("DROP INDEX events_rep_streams")
