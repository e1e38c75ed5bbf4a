"""Read models in two generations, both created here; the reporting views without wrappers.

Each read-model table becomes a partitioned table with one partition, the live generation
(`rm_flow_facts` holds `rm_flow_facts_a`), and gets a twin parent that holds the spare
(`rm_flow_facts_next` holds `rm_flow_facts_b`). Columns, keys and indexes are declared on the
parents, here; a partition takes its indexes from the parent it is attached to. A rebuild loads
the spare and swaps the two partitions between the parents (docs/read-models.md), so it never
creates a table or an index definition of its own, and the readers' table names stay.

The rows already projected stay where they are: each table becomes the live partition of its
new parent, its indexes rebuilt there. The reporting views that read `rm_deal_segments` become
plain views over the parent, which a swap leaves in place: the SECURITY DEFINER functions they
read through are dropped, and the views keep their names, columns, comments and grants.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQL = Path(__file__).resolve().parents[1] / "sql" / "0012"
_BOUND = "FOR VALUES FROM (MINVALUE) TO (MAXVALUE)"
"""The one partition of a parent takes every row: implied by NOT NULL, so attaching scans none."""

# Each parent's shape, `{t}` its name. The columns keep the order the tables had.
_SHAPES = {
    "rm_flow_facts": (
        """
        CREATE TABLE {t} (
            position          bigint      PRIMARY KEY,
            deal_id           text        NOT NULL,
            kind              text        NOT NULL,
            rep_id            text        NOT NULL,
            occurred_at       timestamptz NOT NULL,
            recorded_at       timestamptz NOT NULL,
            retracted_at      timestamptz,
            amount            numeric,
            currency          text,
            visit_kind        text,
            repeats_for_rep   boolean     NOT NULL DEFAULT false,
            repeats_for_deal  boolean     NOT NULL DEFAULT false
        ) PARTITION BY RANGE (position)
        """,
        """
        CREATE INDEX {t}_period ON {t} (occurred_at)
            INCLUDE (kind, rep_id, deal_id, recorded_at, retracted_at, visit_kind,
                     repeats_for_rep, repeats_for_deal)
        """,
        "CREATE INDEX {t}_deal_kind ON {t} (deal_id, kind, rep_id)",
    ),
    "rm_team_assignments": (
        """
        CREATE TABLE {t} (
            position      bigint      PRIMARY KEY,
            rep_id        text        NOT NULL,
            team_id       text        NOT NULL,
            valid_from    timestamptz NOT NULL,
            recorded_at   timestamptz NOT NULL,
            retracted_at  timestamptz
        ) PARTITION BY RANGE (position)
        """,
        "CREATE INDEX {t}_rep ON {t} (rep_id, valid_from)",
    ),
    "rm_deal_segments": (
        """
        CREATE TABLE {t} (
            deal_id       text        NOT NULL,
            valid_from    timestamptz NOT NULL,
            valid_to      timestamptz NOT NULL,
            known_from    timestamptz NOT NULL,
            known_to      timestamptz NOT NULL,
            stage         text,
            owner_rep_id  text
        ) PARTITION BY RANGE (valid_from)
        """,
        "CREATE INDEX {t}_deal ON {t} (deal_id)",
        """
        CREATE INDEX {t}_at ON {t} (valid_to, valid_from)
            INCLUDE (known_from, known_to, stage, owner_rep_id, deal_id)
        """,
    ),
    "rm_plan_events": (
        """
        CREATE TABLE {t} (
            position      bigint      PRIMARY KEY,
            subject       text        NOT NULL,
            type          text        NOT NULL,
            valid_from    timestamptz NOT NULL,
            recorded_at   timestamptz NOT NULL,
            retracted_at  timestamptz,
            data          jsonb       NOT NULL
        ) PARTITION BY RANGE (position)
        """,
        "CREATE INDEX {t}_subject ON {t} (subject, valid_from)",
    ),
}
_VIEWS = ("reporting.deal_stage_history", "reporting.deal_state_current")


def _sql(name: str) -> str:
    return (_SQL / f"{name}.sql").read_text(encoding="utf-8")


def upgrade() -> None:
    """Turn each read-model table into the live partition of a parent; add the spare's parent."""
    op.execute(_sql("public.read_model_strip"))
    op.execute("REVOKE ALL ON FUNCTION public.read_model_strip(regclass) FROM PUBLIC")
    for table, shape in _SHAPES.items():
        # Tables a rebuild of the earlier kind may have left behind when it failed.
        op.execute(f"DROP TABLE IF EXISTS {table}_next, {table}_old")
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_a")
        op.execute(f"SELECT public.read_model_strip('{table}_a')")
        for parent in (table, f"{table}_next"):
            for statement in shape:
                op.execute(statement.format(t=parent))
        op.execute(f"ALTER TABLE {table} ATTACH PARTITION {table}_a {_BOUND}")
        op.execute(f"CREATE TABLE {table}_b PARTITION OF {table}_next {_BOUND}")
        # The planner's join estimates over a parent read the parent's own statistics.
        op.execute(f"ANALYZE {table}")
    for view in _VIEWS:
        op.execute(_sql(view))
    op.execute("DROP FUNCTION reporting.deal_stage_history_rows()")
    op.execute("DROP FUNCTION reporting.deal_state_current_rows()")


def downgrade() -> None:
    """Plain tables again (the live partitions, indexes under their old names), read by the
    reporting views through definer functions."""
    for view in _VIEWS:
        function = f"{view}_rows"
        op.execute(_sql(f"downgrade/{function}"))
        op.execute(f"REVOKE ALL ON FUNCTION {function}() FROM PUBLIC")
        op.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {function}()")
    for table, shape in _SHAPES.items():
        op.execute(
            f"""
            DO $$
            DECLARE live text;
            BEGIN
                SELECT inhrelid::regclass::text INTO live FROM pg_inherits
                WHERE inhparent = '{table}'::regclass;
                EXECUTE format('ALTER TABLE {table} DETACH PARTITION %s', live);
                EXECUTE format('ALTER TABLE %s RENAME TO {table}_live', live);
            END
            $$
            """
        )
        op.execute(f"DROP TABLE {table}, {table}_next")
        op.execute(f"DROP TABLE IF EXISTS {table}_a, {table}_b")
        op.execute(f"ALTER TABLE {table}_live RENAME TO {table}")
        op.execute(f"SELECT public.read_model_strip('{table}')")
        if "PRIMARY KEY" in shape[0]:
            op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (position)")
        for statement in shape[1:]:
            op.execute(statement.format(t=table))
    op.execute("DROP FUNCTION public.read_model_strip(regclass)")
