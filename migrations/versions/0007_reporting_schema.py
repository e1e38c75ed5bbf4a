"""The `reporting` schema: documented, stable SQL views for BI tools (docs/bi.md).

Views over the read models read them through SQL functions whose bodies are resolved when
called: a rebuild swaps the read-model tables (rename, then drop), which a view bound to the old
tables would block. The functions are SECURITY DEFINER, so a BI role needs no right on any base
table; `funnel-ledger bi-role create` grants SELECT on the views and EXECUTE on the functions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DEFINER = "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public"
_UNRETRACTED = """NOT EXISTS (
    SELECT 1 FROM public.events r
    WHERE r.type = 'event.retracted'
      AND r.data->>'event_source' = {alias}.source AND r.data->>'event_id' = {alias}.event_id)"""
_TEAM_AT = """LEFT JOIN LATERAL (
    SELECT a.data->>'team_id' AS team_id FROM public.events a
    WHERE a.type = 'rep.team_assigned' AND a.subject = 'rep:' || {rep}
      AND a.occurred_at <= {instant} AND {unretracted}
    ORDER BY a.occurred_at DESC, a.position DESC LIMIT 1) {alias} ON true"""

_STATEMENTS = (
    "CREATE SCHEMA reporting",
    "COMMENT ON SCHEMA reporting IS 'Stable views for BI tools; see docs/bi.md'",
    """
    CREATE FUNCTION reporting.company_timezone() RETURNS text LANGUAGE sql STABLE AS $$
        SELECT COALESCE(NULLIF(current_setting('funnel.timezone', true), ''), 'UTC')
    $$
    """,
    """
    CREATE VIEW reporting.events AS
    SELECT e.position, e.subject, e.stream_version, e.source, e.event_id, e.type,
           e.occurred_at, e.recorded_at, e.data, encode(e.hash, 'hex') AS hash,
           r.position IS NOT NULL AS retracted, r.position AS retracted_by_position,
           r.recorded_at AS retracted_at
    FROM public.events e
    LEFT JOIN public.events r ON r.type = 'event.retracted'
         AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id
    """,
    f"""
    CREATE VIEW reporting.flow_facts AS
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
    {
        _TEAM_AT.format(
            rep="(e.data->>'rep_id')",
            instant="e.occurred_at",
            alias="t",
            unretracted=_UNRETRACTED.format(alias="a"),
        )
    }
    WHERE e.type IN ('deal.contract_signed', 'deal.committee_approved', 'deal.qualified',
                     'lead.sourced', 'visit.completed')
      AND e.subject NOT LIKE 'rep:%' AND e.subject NOT LIKE 'team:%'
      AND {_UNRETRACTED.format(alias="e")}
    """,
    """
    CREATE VIEW reporting.scoreboard_daily AS
    SELECT day, rep_id, team_id,
           count(DISTINCT deal_id) FILTER (WHERE kind = 'signed') AS closed_deals,
           count(DISTINCT deal_id) FILTER (WHERE kind = 'approved') AS committed_deals,
           count(DISTINCT deal_id) FILTER (WHERE kind = 'qualified') AS opportunities,
           count(DISTINCT deal_id) FILTER (WHERE kind = 'sourced') AS leads,
           count(*) FILTER (WHERE kind = 'visit') AS client_visits,
           count(*) FILTER (WHERE visit_kind = 'FSI') AS fsi_visits,
           count(*) FILTER (WHERE visit_kind = 'FUA') AS fua_visits
    FROM reporting.flow_facts
    GROUP BY day, rep_id, team_id
    """,
    f"""
    CREATE FUNCTION reporting.deal_stage_history_rows()
    RETURNS TABLE (deal_id text, stage text, owner_rep_id text,
                   valid_from timestamptz, valid_to timestamptz)
    {_DEFINER} AS $$
        SELECT s.deal_id, s.stage, s.owner_rep_id, s.valid_from,
               NULLIF(s.valid_to, 'infinity')
        FROM public.rm_deal_segments s
        WHERE s.known_to = 'infinity'
    $$
    """,
    """
    CREATE VIEW reporting.deal_stage_history AS
    SELECT * FROM reporting.deal_stage_history_rows()
    """,
    f"""
    CREATE FUNCTION reporting.deal_state_current_rows()
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
              AND {_UNRETRACTED.format(alias="e")}
            ORDER BY e.occurred_at DESC, e.position DESC LIMIT 1
        ) src ON true
        LEFT JOIN LATERAL (
            SELECT e.data FROM public.events e
            WHERE e.subject = cur.deal_id
              AND e.type IN ('deal.qualified', 'deal.contract_signed', 'deal.amount_revised')
              AND {_UNRETRACTED.format(alias="e")}
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
              AND {_UNRETRACTED.format(alias="e")}
        ) counts ON true
        LEFT JOIN LATERAL (
            SELECT max(e.stream_version) AS version FROM public.events e
            WHERE e.subject = cur.deal_id
        ) ver ON true
        {
        _TEAM_AT.format(
            rep="cur.owner_rep_id",
            instant="now()",
            alias="team",
            unretracted=_UNRETRACTED.format(alias="a"),
        )
    }
    $$
    """,
    """
    CREATE VIEW reporting.deal_state_current AS
    SELECT * FROM reporting.deal_state_current_rows()
    """,
    "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA reporting FROM PUBLIC",
)

_COMMENTS = {
    "reporting.events": "Every stored event, with whether (and by which position) it was retracted",
    "reporting.flow_facts": "Each unretracted event that counts in the five numbers, credited to rep and team",
    "reporting.scoreboard_daily": "The five numbers per company-time-zone day, rep and team, as known now",
    "reporting.deal_stage_history": "The stage and owner of each deal over valid time, as known now",
    "reporting.deal_state_current": "The current state of each deal, as known now",
}


def upgrade() -> None:
    """Create the reporting schema, its views and the functions behind them."""
    for statement in _STATEMENTS:
        op.execute(statement)
    for view, comment in _COMMENTS.items():
        op.execute(f"COMMENT ON VIEW {view} IS '{comment}'")


def downgrade() -> None:
    """Drop the reporting schema and everything in it."""
    op.execute("DROP SCHEMA reporting CASCADE")
