-- The view as migration 0011 made it.
CREATE OR REPLACE VIEW reporting.scoreboard_daily AS
SELECT f.day, f.rep_id, f.team_id,
       count(DISTINCT f.deal_id) FILTER (WHERE n.number = 'closed_deals') AS closed_deals,
       count(DISTINCT f.deal_id) FILTER (WHERE n.number = 'committed_deals')
           AS committed_deals,
       count(DISTINCT f.deal_id) FILTER (WHERE n.number = 'opportunities') AS opportunities,
       count(DISTINCT f.deal_id) FILTER (WHERE n.number = 'leads') AS leads,
       count(*) FILTER (WHERE n.number = 'client_visits') AS client_visits,
       count(*) FILTER (WHERE v.number = 'fsi_visits') AS fsi_visits,
       count(*) FILTER (WHERE v.number = 'fua_visits') AS fua_visits
FROM reporting.flow_facts f
JOIN (SELECT DISTINCT kind, number FROM rules.flow_kind) n ON n.kind = f.kind
LEFT JOIN rules.visit_split v ON v.kind = f.kind AND v.value = f.visit_kind
GROUP BY f.day, f.rep_id, f.team_id
