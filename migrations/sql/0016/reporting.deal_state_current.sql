-- The current state of each deal, as known now. A plain view over the partitioned
-- `rm_deal_segments` and the events; events out of range (before 1900 or from 2200 on) count
-- for nothing, a retraction whatever its time retracts. Migration 0016 adds, at the end, the
-- deal's account id (`account.id` of its latest lead.sourced) and its account key (the id,
-- else the name): the key `group_by=account` credits.
CREATE OR REPLACE VIEW reporting.deal_state_current AS
WITH cur AS (
    SELECT s.deal_id, s.stage, s.owner_rep_id FROM public.rm_deal_segments s
    WHERE s.known_to = 'infinity' AND s.valid_to = 'infinity'
)
SELECT cur.deal_id, cur.stage, cur.owner_rep_id, team.team_id AS owner_team_id,
       since.at AS stage_since,
       src.data->'account'->>'name' AS account_name,
       src.data->'account'->>'industry' AS account_industry,
       src.data->>'channel' AS channel,
       (money.data->>'amount')::numeric AS amount,
       money.data->>'currency' AS currency,
       counts.fsi AS fsi_visits, counts.fua AS fua_visits, counts.calls AS calls,
       counts.first_at AS first_event_at, counts.last_at AS last_event_at,
       ver.version AS version,
       src.data->'account'->>'id' AS account_id,
       COALESCE(src.data->'account'->>'id', src.data->'account'->>'name') AS account_key
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
      AND e.occurred_at >= '1900-01-01T00:00:00+00:00'
      AND e.occurred_at < '2200-01-01T00:00:00+00:00'
      AND NOT EXISTS (
          SELECT 1 FROM public.events r
          WHERE r.type = 'event.retracted'
            AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id)
    ORDER BY e.occurred_at DESC, e.position DESC LIMIT 1
) src ON true
LEFT JOIN LATERAL (
    SELECT e.data FROM public.events e
    WHERE e.subject = cur.deal_id
      AND e.type IN ('deal.qualified', 'deal.contract_signed', 'deal.amount_revised')
      AND e.occurred_at >= '1900-01-01T00:00:00+00:00'
      AND e.occurred_at < '2200-01-01T00:00:00+00:00'
      AND NOT EXISTS (
          SELECT 1 FROM public.events r
          WHERE r.type = 'event.retracted'
            AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id)
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
      AND e.occurred_at >= '1900-01-01T00:00:00+00:00'
      AND e.occurred_at < '2200-01-01T00:00:00+00:00'
      AND NOT EXISTS (
          SELECT 1 FROM public.events r
          WHERE r.type = 'event.retracted'
            AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id)
) counts ON true
LEFT JOIN LATERAL (
    SELECT max(e.stream_version) AS version FROM public.events e
    WHERE e.subject = cur.deal_id
) ver ON true
LEFT JOIN LATERAL (
    SELECT a.data->>'team_id' AS team_id FROM public.events a
    WHERE a.type = 'rep.team_assigned' AND a.subject = 'rep:' || cur.owner_rep_id
      AND a.occurred_at <= now()
      AND a.occurred_at >= '1900-01-01T00:00:00+00:00'
      AND a.occurred_at < '2200-01-01T00:00:00+00:00'
      AND NOT EXISTS (
          SELECT 1 FROM public.events r
          WHERE r.type = 'event.retracted'
            AND r.data->>'event_source' = a.source AND r.data->>'event_id' = a.event_id)
    ORDER BY a.occurred_at DESC, a.position DESC LIMIT 1
) team ON true
