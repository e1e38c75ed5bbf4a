"""The company calendar for BI: `reporting.calendar_days`, the declared holidays and make-up
working days as they stand now.

Calendar declarations (`calendar.day_set` on `calendar:company`) are new events; the service
reads them from the plan read model (`rm_plan_events`), which needs no new column. A BI login
made before this view gets `SELECT` on it here, as `bi-role create` would have granted.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQL = Path(__file__).resolve().parents[1] / "sql" / "0017"

# Every role that may read the log's view (the BI logins) may read the calendar's too.
_GRANT_TO_READERS = """
DO $$
DECLARE reader text;
BEGIN
    FOR reader IN
        SELECT r.rolname FROM pg_roles r
        WHERE r.rolname <> current_user AND NOT r.rolsuper
          AND has_table_privilege(r.oid, 'reporting.events', 'SELECT')
    LOOP
        EXECUTE format('GRANT SELECT ON reporting.calendar_days TO %I', reader);
    END LOOP;
END $$
"""


def upgrade() -> None:
    """Create the calendar view and grant it to the existing BI logins."""
    op.execute((_SQL / "reporting.calendar_days.sql").read_text(encoding="utf-8"))
    op.execute(
        "COMMENT ON VIEW reporting.calendar_days IS "
        "'Declared holidays (working false) and make-up working days (working true), as now'"
    )
    op.execute(_GRANT_TO_READERS)


def downgrade() -> None:
    """Drop the calendar view."""
    op.execute("DROP VIEW reporting.calendar_days")
