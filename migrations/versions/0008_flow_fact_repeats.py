"""Flow facts: flags for repeated (deal, kind) facts, so counts need no DISTINCT sort.

A deal is counted once per key even if it has several counting facts of a kind. Almost every
(deal, kind) has one fact; the flags mark the few that have more, and only those need a
distinct count. The flags only ever go from false to true, which keeps them right whatever
the period and `known_at` asked about.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add and backfill the flags; index what the writer and the scoreboard look up."""
    op.execute(
        "ALTER TABLE rm_flow_facts "
        "ADD COLUMN repeats_for_rep boolean NOT NULL DEFAULT false, "
        "ADD COLUMN repeats_for_deal boolean NOT NULL DEFAULT false"
    )
    op.execute("CREATE INDEX rm_flow_facts_deal_kind ON rm_flow_facts (deal_id, kind, rep_id)")
    # By definition, not by name: a rebuild before the fix that keeps names may have renamed it.
    op.execute(
        """
        DO $$
        DECLARE name text;
        BEGIN
            FOR name IN SELECT indexname FROM pg_indexes
                        WHERE schemaname = current_schema() AND tablename = 'rm_flow_facts'
                          AND indexdef LIKE '%(occurred_at) INCLUDE%'
            LOOP
                EXECUTE format('DROP INDEX %I', name);
            END LOOP;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE INDEX rm_flow_facts_period ON rm_flow_facts (occurred_at)
            INCLUDE (kind, rep_id, deal_id, recorded_at, retracted_at, visit_kind,
                     repeats_for_rep, repeats_for_deal)
        """
    )
    op.execute(
        """
        UPDATE rm_flow_facts f SET repeats_for_deal = c.per_deal > 1, repeats_for_rep = c.per_rep > 1
        FROM (SELECT position,
                     count(*) OVER (PARTITION BY deal_id, kind) AS per_deal,
                     count(*) OVER (PARTITION BY deal_id, kind, rep_id) AS per_rep
              FROM rm_flow_facts WHERE kind <> 'visit') AS c
        WHERE f.position = c.position AND c.per_deal > 1
        """
    )


def downgrade() -> None:
    """Drop the flags."""
    op.execute("DROP INDEX rm_flow_facts_deal_kind")
    op.execute(
        "ALTER TABLE rm_flow_facts DROP COLUMN repeats_for_rep, DROP COLUMN repeats_for_deal"
    )
