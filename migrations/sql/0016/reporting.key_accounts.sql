-- Each account's key-account mark in force now (account.key_set), as known now: the latest
-- unretracted mark by valid time (ties: the later stored). Events out of range count for
-- nothing; a retraction whatever its time retracts. Join `account_key` to
-- `reporting.deal_state_current.account_key`.
CREATE OR REPLACE VIEW reporting.key_accounts AS
SELECT DISTINCT ON (e.data->>'account')
       e.data->>'account' AS account_key,
       (e.data->>'key')::boolean AS key_account,
       e.data->>'note' AS note,
       e.occurred_at AS marked_at,
       e.recorded_at AS recorded_at
FROM public.events e
WHERE e.type = 'account.key_set' AND e.subject LIKE 'account:%'
  AND e.occurred_at <= now()
  AND e.occurred_at >= '1900-01-01T00:00:00+00:00'
  AND e.occurred_at < '2200-01-01T00:00:00+00:00'
  AND NOT EXISTS (
      SELECT 1 FROM public.events r
      WHERE r.type = 'event.retracted'
        AND r.data->>'event_source' = e.source AND r.data->>'event_id' = e.event_id)
ORDER BY e.data->>'account', e.occurred_at DESC, e.position DESC
