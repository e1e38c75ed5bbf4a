"""The append-only events table: global position, streams, idempotency keys, hash chain.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the events table and make it append-only in the database itself."""
    op.execute(
        """
        CREATE TABLE events (
            position        bigint      PRIMARY KEY CHECK (position > 0),
            subject         text        NOT NULL,
            stream_version  integer     NOT NULL CHECK (stream_version > 0),
            source          text        NOT NULL,
            event_id        text        NOT NULL,
            type            text        NOT NULL,
            schema_version  smallint    NOT NULL DEFAULT 1,
            occurred_at     timestamptz NOT NULL,
            recorded_at     timestamptz NOT NULL,
            data            jsonb       NOT NULL,
            metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
            fingerprint     bytea       NOT NULL,
            hash            bytea       NOT NULL,
            CONSTRAINT events_stream_version_key UNIQUE (subject, stream_version),
            CONSTRAINT events_source_id_key UNIQUE (source, event_id)
        )
        """
    )
    # One retraction per target: also what the append path uses to refuse a second one.
    op.execute(
        """
        CREATE UNIQUE INDEX events_retraction_target_key
            ON events ((data->>'event_source'), (data->>'event_id'))
            WHERE type = 'event.retracted'
        """
    )
    op.execute(
        """
        CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the events table is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER events_no_update_or_delete
            BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION events_refuse_change()
        """
    )
    op.execute(
        """
        CREATE TRIGGER events_no_truncate
            BEFORE TRUNCATE ON events
            FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change()
        """
    )


def downgrade() -> None:
    """Drop the events table (only ever useful on an empty development database)."""
    op.execute("DROP TABLE events")
    op.execute("DROP FUNCTION events_refuse_change()")
