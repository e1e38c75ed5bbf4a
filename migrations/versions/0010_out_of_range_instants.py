"""Events whose time lies out of range are never counted, in the read models and the BI views.

Only an earlier version could store such an event (a year-1 time is stored as `-infinity`).
If the log holds one, the read models may have counted it, or a deal's segments may start at
`-infinity`: they are emptied and the projector refolds them from position 0 under the new rule
(as `funnel-ledger rebuild` would). A log without one is left as it is. The reporting views that
count (`flow_facts`, and `deal_state_current` through its function) leave such events out too;
`reporting.events` still shows every stored row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The range of `service.events.instants`, fixed here as it was when this migration was written.
_IN_RANGE = (
    "{alias}.occurred_at >= '1900-01-01T00:00:00+00:00' "
    "AND {alias}.occurred_at < '2200-01-01T00:00:00+00:00'"
)
_OUT_OF_RANGE_EVENT = f"SELECT 1 FROM events e WHERE NOT ({_IN_RANGE.format(alias='e')})"
_DEFINER = "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public"
_UNRETRACTED = """NOT EXISTS (
    SELECT 1 FROM public.events r
    WHERE r.type = 'event.retracted'
      AND r.data->>'event_source' = {alias}.source AND r.data->>'event_id' = {alias}.event_id)"""
_TEAM_AT = """LEFT JOIN LATERAL (
    SELECT a.data->>'team_id' AS team_id FROM public.events a
    WHERE a.type = 'rep.team_assigned' AND a.subject = 'rep:' || {rep}
      AND a.occurred_at <= {instant} AND {in_range} AND {unretracted}
    ORDER BY a.occurred_at DESC, a.position DESC LIMIT 1) {alias} ON true"""


def _unretracted(alias: str) -> str:
    # A retraction's own time does not matter (contract §4): one out of range still retracts.
    return _UNRETRACTED.format(alias=alias)


def _team_at(rep: str, instant: str, alias: str) -> str:
    return _TEAM_AT.format(
        rep=rep,
        instant=instant,
        alias=alias,
        in_range=_IN_RANGE.format(alias="a"),
        unretracted=_unretracted("a"),
    )


_FLOW_FACTS = f"""
CREATE OR REPLACE VIEW reporting.flow_facts AS
SELECT e.position, e.subject AS deal_id,
       CASE e.type WHEN 'deal.contract_signed' THEN 'signed'
                   WHEN 'deal.committee_approved' THEN 'approved'
                   WHEN 'deal.qualified' THEN 'qualified'
                   WHEN 'lead.sourced' THEN 'sourced'
                   ELSE 'visit' END AS kind,
       e.data->>'rep_id' AS rep_id, t.team_id, e.occurred_at,
       (e.occurred_at AT TIME ZONE reporting.company_timezone())::date AS day,
       e.recorded_at,
       CASE WHEN e.type = 'deal.contract_signed' THEN (e.data->>'amount')::numeric END
           AS amount,
       CASE WHEN e.type = 'deal.contract_signed' THEN e.data->>'currency' END AS currency,
       CASE WHEN e.type = 'visit.completed' THEN e.data->>'kind' END AS visit_kind
FROM public.events e
{_team_at("(e.data->>'rep_id')", "e.occurred_at", "t")}
WHERE e.type IN ('deal.contract_signed', 'deal.committee_approved', 'deal.qualified',
                 'lead.sourced', 'visit.completed')
  AND e.subject NOT LIKE 'rep:%' AND e.subject NOT LIKE 'team:%'
  AND {_IN_RANGE.format(alias="e")}
  AND {_unretracted("e")}
"""

_DEAL_STATE_CURRENT = f"""
CREATE OR REPLACE FUNCTION reporting.deal_state_current_rows()
RETURNS TABLE (deal_id text, stage text, owner_rep_id text, owner_team_id text,
               stage_since timestamptz, account_name text, account_industry text,
               channel text, amount numeric, currency text, fsi_visits bigint,
               fua_visits bigint, calls bigint, first_event_at timestamptz,
               last_event_at timestamptz, version integer)
{_DEFINER} AS $$
    WITH cur AS (
        SELECT s.deal_id, s.stage, s.owner_rep_id FROM public.rm_deal_segments s
        WHERE s.known_to = 'infinity' AND s.valid_to = 'infinity'
    )
    SELECT cur.deal_id, cur.stage, cur.owner_rep_id, team.team_id, since.at,
           src.data->'account'->>'name', src.data->'account'->>'industry',
           src.data->>'channel', (money.data->>'amount')::numeric,
           money.data->>'currency', counts.fsi, counts.fua, counts.calls,
           counts.first_at, counts.last_at, ver.version
    FROM cur
    LEFT JOIN LATERAL (
        SELECT min(s.valid_from) AS at FROM public.rm_deal_segments s
        WHERE s.deal_id = cur.deal_id AND s.known_to = 'infinity'
          AND s.valid_from > COALESCE((
              SELECT max(x.valid_from) FROM public.rm_deal_segments x
              WHERE x.deal_id = cur.deal_id AND x.known_to = 'infinity'
                AND x.stage IS DISTINCT FROM cur.stage), '-infinity')
    ) since ON true
    LEFT JOIN LATERAL (
        SELECT e.data FROM public.events e
        WHERE e.subject = cur.deal_id AND e.type = 'lead.sourced'
          AND {_IN_RANGE.format(alias="e")} AND {_unretracted("e")}
        ORDER BY e.occurred_at DESC, e.position DESC LIMIT 1
    ) src ON true
    LEFT JOIN LATERAL (
        SELECT e.data FROM public.events e
        WHERE e.subject = cur.deal_id
          AND e.type IN ('deal.qualified', 'deal.contract_signed', 'deal.amount_revised')
          AND {_IN_RANGE.format(alias="e")} AND {_unretracted("e")}
        ORDER BY e.occurred_at DESC, e.position DESC LIMIT 1
    ) money ON true
    LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE e.type = 'visit.completed'
                                  AND e.data->>'kind' = 'FSI') AS fsi,
               count(*) FILTER (WHERE e.type = 'visit.completed'
                                  AND e.data->>'kind' = 'FUA') AS fua,
               count(*) FILTER (WHERE e.type = 'call.logged') AS calls,
               min(e.occurred_at) AS first_at, max(e.occurred_at) AS last_at
        FROM public.events e
        WHERE e.subject = cur.deal_id AND e.type <> 'event.retracted'
          AND {_IN_RANGE.format(alias="e")} AND {_unretracted("e")}
    ) counts ON true
    LEFT JOIN LATERAL (
        SELECT max(e.stream_version) AS version FROM public.events e
        WHERE e.subject = cur.deal_id
    ) ver ON true
    {_team_at("cur.owner_rep_id", "now()", "team")}
$$
"""

_RESET_READ_MODELS = f"""
DO $$
BEGIN
    IF EXISTS ({_OUT_OF_RANGE_EVENT}) THEN
        TRUNCATE rm_flow_facts, rm_team_assignments, rm_deal_segments, rm_plan_events;
        UPDATE projection_checkpoints SET position = 0, updated_at = now(),
               last_error = NULL, last_error_at = NULL
        WHERE name = 'read_models';
    END IF;
END
$$
"""


def upgrade() -> None:
    """Refold the read models if the log holds an event out of range; leave such events out of
    the counting reporting views."""
    op.execute(_RESET_READ_MODELS)
    op.execute(_FLOW_FACTS)
    op.execute(_DEAL_STATE_CURRENT)


def downgrade() -> None:
    """Nothing to undo: the range predicates are harmless to the earlier version."""
