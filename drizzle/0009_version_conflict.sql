-- Aborts a pipelined commit (entity-state/sql.ts): its state write found the entity at another
-- version than the turn started from, and the writes sent behind it in the same round trip must
-- not commit. SQLSTATE CL002 tells this version conflict from any other failure.
CREATE FUNCTION "entity_version_conflict"(entity_type text, entity_id text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'CL002', MESSAGE = format('%s/%s is at another version than expected', entity_type, entity_id);
END
$$;
