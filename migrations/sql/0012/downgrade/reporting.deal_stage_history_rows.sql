-- The function the view read through before read-model generations (migration 0007).
CREATE FUNCTION reporting.deal_stage_history_rows()
RETURNS TABLE (deal_id text, stage text, owner_rep_id text,
               valid_from timestamptz, valid_to timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT s.deal_id, s.stage, s.owner_rep_id, s.valid_from, NULLIF(s.valid_to, 'infinity')
    FROM public.rm_deal_segments s
    WHERE s.known_to = 'infinity'
$$
