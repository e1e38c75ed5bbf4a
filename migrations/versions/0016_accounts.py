"""Accounts in the reporting views, and an index of the account streams.

`reporting.deal_state_current` gains, at its end, `account_id` and `account_key` (the deal's
CRM account id, and the key `group_by=account` credits: the id, else the name). The new view
`reporting.key_accounts` shows each account's key-account mark in force now; every BI role that
may read the reporting views may read it too. Key-account marks are folded from the
`account:` streams on every read of `/v1/accounts`: a partial index in position order answers
that read without scanning the log, as `events_rep_streams` does for reps' names.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQL = Path(__file__).resolve().parents[1] / "sql"
_COMMENT = "Each account''s key-account mark in force now (account.key_set), as known now"
_STATE_COMMENT = "The current state of each deal, as known now"
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
        EXECUTE format('GRANT SELECT ON reporting.{view} TO %I', reader.grantee);
    END LOOP;
END $$
"""


def _sql(revision_dir: str, name: str) -> str:
    return (_SQL / revision_dir / f"{name}.sql").read_text(encoding="utf-8")


def upgrade() -> None:
    """Index the account streams; add the account to the deal view; add the key accounts."""
    op.execute(
        "CREATE INDEX events_account_streams ON events (position) WHERE subject LIKE 'account:%'"
    )
    op.execute(_sql("0016", "reporting.deal_state_current"))
    op.execute(_sql("0016", "reporting.key_accounts"))
    op.execute(f"COMMENT ON VIEW reporting.key_accounts IS '{_COMMENT}'")
    op.execute("REVOKE ALL ON reporting.key_accounts FROM PUBLIC")
    op.execute(_GRANT_TO_READERS.format(view="key_accounts"))


def downgrade() -> None:
    """The views and index as 0015 left them (the deal view loses its two account columns)."""
    op.execute("DROP VIEW reporting.key_accounts")
    op.execute(
        "CREATE TEMPORARY TABLE _readers ON COMMIT DROP AS "
        "SELECT DISTINCT grantee FROM information_schema.table_privileges "
        "WHERE table_schema = 'reporting' AND table_name = 'deal_state_current' "
        "AND privilege_type = 'SELECT' AND grantee <> current_user"
    )
    op.execute("DROP VIEW reporting.deal_state_current")
    op.execute(_sql("0012", "reporting.deal_state_current"))
    op.execute(f"COMMENT ON VIEW reporting.deal_state_current IS '{_STATE_COMMENT}'")
    op.execute("REVOKE ALL ON reporting.deal_state_current FROM PUBLIC")
    op.execute(
        "DO $$ DECLARE reader record; BEGIN FOR reader IN SELECT grantee FROM _readers LOOP "
        "EXECUTE format('GRANT SELECT ON reporting.deal_state_current TO %I', reader.grantee); "
        "END LOOP; END $$"
    )
    op.execute("DROP INDEX events_account_streams")
