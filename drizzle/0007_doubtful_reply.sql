-- Aborts a batched commit (the whole statement, so nothing of it is written) when a reply it was
-- to insert for a request id the runner could not rule out is stored already: that call was
-- applied before. The runner then commits the batch again with the statement that checks each
-- such id first. SQLSTATE CL001 tells this abort from any other failure.
CREATE FUNCTION "entity_reply_stored"(entity_type text, entity_id text, request_id text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'CL001', MESSAGE = format('a reply to %s of %s/%s is stored already', request_id, entity_type, entity_id);
END
$$;
