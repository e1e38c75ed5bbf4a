-- The stage and owner of each deal over valid time, as known now. A plain view: it reads the
-- partitioned `rm_deal_segments`, whose live partition a rebuild swaps without touching it.
CREATE OR REPLACE VIEW reporting.deal_stage_history AS
SELECT s.deal_id, s.stage, s.owner_rep_id, s.valid_from,
       NULLIF(s.valid_to, 'infinity') AS valid_to
FROM public.rm_deal_segments s
WHERE s.known_to = 'infinity'
