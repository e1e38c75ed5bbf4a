-- Each unretracted event that counts in the numbers, as the `rules` tables say: its kind, rep,
-- team then, day; a signing's money; a visit's kind; the sub-count it also counts in (a
-- connected call: `connected_calls`) and what it adds to its kind's measure (talk time).
-- An event of a kind with filters (`rules.flow_filter`: calls are outbound) counts only if its
-- data holds every filter's value. Columns are only ever appended.
CREATE OR REPLACE VIEW reporting.flow_facts AS
SELECT e.position, e.subject AS deal_id, k.kind,
       e.data->>'rep_id' AS rep_id, t.team_id, e.occurred_at,
       (e.occurred_at AT TIME ZONE reporting.company_timezone())::date AS day,
       e.recorded_at,
       CASE WHEN k.money THEN (e.data->>'amount')::numeric END AS amount,
       CASE WHEN k.money THEN e.data->>'currency' END AS currency,
       e.data->>s.field AS visit_kind,
       sc.number AS subcount,
       CASE WHEN m.kind IS NOT NULL AND (NOT m.of_subcount OR sc.number IS NOT NULL)
            THEN CASE WHEN jsonb_typeof(e.data->m.field) = 'number'
                      THEN (e.data->m.field)::bigint ELSE 0 END
       END AS measure
FROM public.events e
JOIN rules.flow_kind k ON k.event_type = e.type
LEFT JOIN (SELECT DISTINCT kind, field FROM rules.visit_split) s ON s.kind = k.kind
LEFT JOIN rules.flow_subcount sc ON sc.kind = k.kind
     AND octet_length(e.data->>sc.field) = char_length(e.data->>sc.field)
     AND lower(e.data->>sc.field) = sc.value
LEFT JOIN rules.flow_measure m ON m.kind = k.kind
LEFT JOIN LATERAL (
    SELECT a.data->>'team_id' AS team_id FROM public.events a
    WHERE a.type = 'rep.team_assigned' AND a.subject = 'rep:' || (e.data->>'rep_id')
      AND a.occurred_at <= e.occurred_at
      AND a.occurred_at >= '1900-01-01T00:00:00+00:00'
      AND a.occurred_at < '2200-01-01T00:00:00+00:00' AND NOT EXISTS (
        SELECT 1 FROM public.events r
        WHERE r.type = 'event.retracted'
          AND r.data->>'event_source' = a.source AND r.data->>'event_id' = a.event_id)
    ORDER BY a.occurred_at DESC, a.position DESC LIMIT 1) t ON true
WHERE e.subject NOT LIKE 'rep:%' AND e.subject NOT LIKE 'team:%'
  AND e.occurred_at >= '1900-01-01T00:00:00+00:00'
  AND e.occurred_at < '2200-01-01T00:00:00+00:00'
  AND NOT EXISTS (
    SELECT 1 FROM rules.flow_filter x
    WHERE x.kind = k.kind AND (e.data->>x.field) IS DISTINCT FROM x.value)
  AND NOT EXISTS (
    SELECT 1 FROM public.events r
    WHERE r.type = 'event.retracted'
      AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id)
