"""Read models: flow facts, team assignments, bitemporal deal segments, projector checkpoints.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the read-model tables the projector keeps and the queries read."""
    op.execute(
        """
        CREATE TABLE projection_checkpoints (
            name           text        PRIMARY KEY,
            position       bigint      NOT NULL DEFAULT 0,
            updated_at     timestamptz NOT NULL DEFAULT now(),
            last_error     text,
            last_error_at  timestamptz
        )
        """
    )
    op.execute("INSERT INTO projection_checkpoints (name) VALUES ('read_models')")
    # One row per event that can count in a period (contract §5): the scoreboard's flow.
    op.execute(
        """
        CREATE TABLE rm_flow_facts (
            position      bigint      PRIMARY KEY,
            deal_id       text        NOT NULL,
            kind          text        NOT NULL,
            rep_id        text        NOT NULL,
            occurred_at   timestamptz NOT NULL,
            recorded_at   timestamptz NOT NULL,
            retracted_at  timestamptz,
            amount        numeric,
            currency      text,
            visit_kind    text
        )
        """
    )
    op.execute(
        """
        CREATE INDEX rm_flow_facts_period ON rm_flow_facts (occurred_at)
            INCLUDE (kind, rep_id, deal_id, recorded_at, retracted_at, visit_kind)
        """
    )
    op.execute(
        """
        CREATE TABLE rm_team_assignments (
            position      bigint      PRIMARY KEY,
            rep_id        text        NOT NULL,
            team_id       text        NOT NULL,
            valid_from    timestamptz NOT NULL,
            recorded_at   timestamptz NOT NULL,
            retracted_at  timestamptz
        )
        """
    )
    op.execute("CREATE INDEX rm_team_assignments_rep ON rm_team_assignments (rep_id, valid_from)")
    # A deal's stage and owner over valid time [valid_from, valid_to), as believed during
    # transaction time [known_from, known_to): enough to answer any (as_of, known_at) question.
    op.execute(
        """
        CREATE TABLE rm_deal_segments (
            deal_id       text        NOT NULL,
            valid_from    timestamptz NOT NULL,
            valid_to      timestamptz NOT NULL,
            known_from    timestamptz NOT NULL,
            known_to      timestamptz NOT NULL,
            stage         text,
            owner_rep_id  text
        )
        """
    )
    op.execute("CREATE INDEX rm_deal_segments_deal ON rm_deal_segments (deal_id)")
    op.execute(
        """
        CREATE INDEX rm_deal_segments_at ON rm_deal_segments (valid_to, valid_from)
            INCLUDE (known_from, known_to, stage, owner_rep_id, deal_id)
        """
    )


def downgrade() -> None:
    """Drop the read models (they can always be rebuilt from the events)."""
    for table in (
        "rm_deal_segments",
        "rm_team_assignments",
        "rm_flow_facts",
        "projection_checkpoints",
    ):
        op.execute(f"DROP TABLE {table}")
