-- The company calendar as it stands now: per declared date, the latest unretracted
-- `calendar.day_set` by valid time (ties: the one stored last) whose time has come.
-- A date not listed is a working day when its weekday is in the workweek (FUNNEL_WORKWEEK).
CREATE OR REPLACE VIEW reporting.calendar_days AS
SELECT DISTINCT ON (d.day)
       d.day, d.working, d.name, extract(isodow FROM d.day)::integer AS iso_weekday,
       d.occurred_at AS declared_at, d.recorded_at, d.position
FROM (
    SELECT (e.data->>'date')::date AS day, (e.data->>'working')::boolean AS working,
           e.data->>'name' AS name, e.occurred_at, e.recorded_at, e.position
    FROM public.events e
    WHERE e.type = 'calendar.day_set' AND e.subject = 'calendar:company'
      AND e.occurred_at <= now()
      AND NOT EXISTS (
          SELECT 1 FROM public.events r
          WHERE r.type = 'event.retracted'
            AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id)
) d
ORDER BY d.day, d.occurred_at DESC, d.position DESC
