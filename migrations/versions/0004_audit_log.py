"""The audit request log: who asked an audit question, when, about what, and the digest answered.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `audit_requests`; a request may be completed once, never changed or deleted."""
    op.execute(
        """
        CREATE TABLE audit_requests (
            id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            requested_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
            completed_at  timestamptz,
            key_id        text,
            actor         text        NOT NULL,
            endpoint      text        NOT NULL,
            period_from   timestamptz,
            period_to     timestamptz,
            known_at      timestamptz,
            digest        text,
            result        jsonb       NOT NULL DEFAULT '{}'::jsonb
        )
        """
    )
    # A streamed export is logged when it starts and completed when its trailer is written;
    # nothing else may ever change or remove a logged request.
    op.execute(
        """
        CREATE FUNCTION audit_requests_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE'
               AND OLD.completed_at IS NULL
               AND NEW.completed_at IS NOT NULL
               AND (NEW.id, NEW.requested_at, NEW.key_id, NEW.actor, NEW.endpoint,
                    NEW.period_from, NEW.period_to, NEW.known_at)
                   IS NOT DISTINCT FROM
                   (OLD.id, OLD.requested_at, OLD.key_id, OLD.actor, OLD.endpoint,
                    OLD.period_from, OLD.period_to, OLD.known_at)
            THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'audit_requests is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_requests_append_only
            BEFORE UPDATE OR DELETE ON audit_requests
            FOR EACH ROW EXECUTE FUNCTION audit_requests_guard()
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_requests_no_truncate
            BEFORE TRUNCATE ON audit_requests
            FOR EACH STATEMENT EXECUTE FUNCTION audit_requests_guard()
        """
    )


def downgrade() -> None:
    """Drop the audit request log."""
    op.execute("DROP TABLE audit_requests")
    op.execute("DROP FUNCTION audit_requests_guard()")
