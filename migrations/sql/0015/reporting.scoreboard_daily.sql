-- The numbers per company-time-zone day, rep and team, counted by the `rules` tables; calls,
-- connected calls and talk time appended after the visit split.
CREATE OR REPLACE VIEW reporting.scoreboard_daily AS
SELECT f.day, f.rep_id, f.team_id,
       count(DISTINCT f.deal_id) FILTER (WHERE n.number = 'closed_deals') AS closed_deals,
       count(DISTINCT f.deal_id) FILTER (WHERE n.number = 'committed_deals')
           AS committed_deals,
       count(DISTINCT f.deal_id) FILTER (WHERE n.number = 'opportunities') AS opportunities,
       count(DISTINCT f.deal_id) FILTER (WHERE n.number = 'leads') AS leads,
       count(*) FILTER (WHERE n.number = 'client_visits') AS client_visits,
       count(*) FILTER (WHERE v.number = 'fsi_visits') AS fsi_visits,
       count(*) FILTER (WHERE v.number = 'fua_visits') AS fua_visits,
       count(*) FILTER (WHERE n.number = 'calls') AS calls,
       count(*) FILTER (WHERE f.subcount = 'connected_calls') AS connected_calls,
       coalesce(sum(f.measure) FILTER (WHERE m.number = 'talk_time_s'), 0)::bigint
           AS talk_time_s
FROM reporting.flow_facts f
JOIN (SELECT DISTINCT kind, number FROM rules.flow_kind) n ON n.kind = f.kind
LEFT JOIN rules.visit_split v ON v.kind = f.kind AND v.value = f.visit_kind
LEFT JOIN rules.flow_measure m ON m.kind = f.kind
GROUP BY f.day, f.rep_id, f.team_id
