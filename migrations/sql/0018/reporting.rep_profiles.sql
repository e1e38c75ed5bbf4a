-- Each rep's profile in force now (rep.profile_set), as known now: the latest unretracted
-- profile by valid time (ties: the later stored), as `rep_name` on scoreboard rows takes it.
-- Events out of range count for nothing; a retraction whatever its time retracts. Join `rep_id`
-- to `reporting.flow_facts.rep_id`, `reporting.scoreboard_daily.rep_id` or
-- `reporting.deal_state_current.owner_rep_id`. E-mail addresses are left out on purpose.
CREATE OR REPLACE VIEW reporting.rep_profiles AS
SELECT DISTINCT ON (e.subject)
       substr(e.subject, 5) AS rep_id,
       e.data->>'name' AS rep_name,
       coalesce((e.data->>'active')::boolean, true) AS active,
       e.occurred_at AS profile_from,
       e.recorded_at AS recorded_at
FROM public.events e
WHERE e.type = 'rep.profile_set' AND e.subject LIKE 'rep:%'
  AND e.occurred_at <= now()
  AND e.occurred_at >= '1900-01-01T00:00:00+00:00'
  AND e.occurred_at < '2200-01-01T00:00:00+00:00'
  AND NOT EXISTS (
      SELECT 1 FROM public.events r
      WHERE r.type = 'event.retracted'
        AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id)
ORDER BY e.subject, e.occurred_at DESC, e.position DESC
