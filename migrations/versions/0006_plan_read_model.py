"""The plan read model: targets and team priorities, one row per event.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `rm_plan_events` and fill it from any target or priority events already stored."""
    op.execute(
        """
        CREATE TABLE rm_plan_events (
            position      bigint      PRIMARY KEY,
            subject       text        NOT NULL,
            type          text        NOT NULL,
            valid_from    timestamptz NOT NULL,
            recorded_at   timestamptz NOT NULL,
            retracted_at  timestamptz,
            data          jsonb       NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX rm_plan_events_subject ON rm_plan_events (subject, valid_from)")
    # The projector may already be past such events (none existed before this schema).
    op.execute(
        """
        INSERT INTO rm_plan_events (position, subject, type, valid_from, recorded_at,
                                    retracted_at, data)
        SELECT e.position, e.subject, e.type, e.occurred_at, e.recorded_at, r.recorded_at, e.data
        FROM events e
        LEFT JOIN events r ON r.type = 'event.retracted'
             AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id
        WHERE e.type IN ('target.set', 'team.priorities_set')
        """
    )


def downgrade() -> None:
    """Drop the plan read model (it can be rebuilt from the events)."""
    op.execute("DROP TABLE rm_plan_events")
