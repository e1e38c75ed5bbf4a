-- Drops every key constraint and index of a read-model partition that is attached to no
-- parent, so that a bulk load into it maintains no index row by row. Attaching it to a
-- partitioned parent afterwards builds exactly the indexes the migrations declared there.
CREATE FUNCTION public.read_model_strip(partition regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    name text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = partition) THEN
        RAISE EXCEPTION '% is attached: detach it before stripping it', partition;
    END IF;
    FOR name IN SELECT conname FROM pg_constraint
                WHERE conrelid = partition AND contype IN ('p', 'u', 'x')
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', partition, name);
    END LOOP;
    FOR name IN SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = partition
    LOOP
        EXECUTE format('DROP INDEX %s', name);
    END LOOP;
END
$$
