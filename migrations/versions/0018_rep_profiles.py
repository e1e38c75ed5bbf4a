"""Reps' names in the reporting views.

The new view `reporting.rep_profiles` shows each rep's profile in force now (`rep.profile_set`:
name and active flag, not the e-mail), so that BI tools can name the reps of the other views;
every BI role that may read the reporting views may read it too. It reads the `rep:` streams
through the partial index of migration 0014.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQL = Path(__file__).resolve().parents[1] / "sql" / "0018"
_COMMENT = "Each rep''s name and active flag in force now (rep.profile_set), as known now"
# The roles that read the reporting views (BI logins) get the new view too.
_GRANT_TO_READERS = """
DO $$
DECLARE reader record;
BEGIN
    FOR reader IN
        SELECT DISTINCT grantee FROM information_schema.table_privileges
        WHERE table_schema = 'reporting' AND table_name = 'deal_state_current'
          AND privilege_type = 'SELECT' AND grantee <> current_user
    LOOP
        EXECUTE format('GRANT SELECT ON reporting.rep_profiles TO %I', reader.grantee);
    END LOOP;
END $$
"""


def upgrade() -> None:
    """Add `reporting.rep_profiles`, readable by the BI roles that read the other views."""
    op.execute((_SQL / "reporting.rep_profiles.sql").read_text(encoding="utf-8"))
    op.execute(f"COMMENT ON VIEW reporting.rep_profiles IS '{_COMMENT}'")
    op.execute("REVOKE ALL ON reporting.rep_profiles FROM PUBLIC")
    op.execute(_GRANT_TO_READERS)


def downgrade() -> None:
    """The reporting views as 0017 left them."""
    op.execute("DROP VIEW reporting.rep_profiles")
