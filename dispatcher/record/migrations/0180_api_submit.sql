-- The API's whole PostgreSQL part of a help request in one round trip (issue 18): claim the
-- bot's idempotency key, then, under the merge key's advisory lock, either count one more
-- report on an open request with the same key or store the new request's intake row (its
-- command is the outbox copy the unrecorded sweeper re-sends). Same statements as the
-- separate calls it replaces (dispatcher/record/edge/intake.py), in one transaction.
-- claimed = false: the key was already known (nothing else was done; the caller replays,
-- refuses or takes over a stale key). earlier: the request this report was merged into.
CREATE FUNCTION api_submit(
    p_bot_id text, p_key text, p_fingerprint text, p_request_id text,
    p_community_id text, p_merge_key text, p_command jsonb, p_window_s double precision)
RETURNS TABLE (claimed boolean, earlier text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    found_earlier text;
BEGIN
    IF p_key IS NOT NULL THEN
        INSERT INTO api_idempotency (bot_id, key, fingerprint, state)
        VALUES (p_bot_id, p_key, p_fingerprint, 'in_flight') ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN QUERY SELECT false, NULL::text;
            RETURN;
        END IF;
    END IF;
    IF p_merge_key IS NOT NULL THEN
        -- The same lock key as before (hashtext of the merge key): old and new API
        -- instances still serialise against each other.
        PERFORM pg_advisory_xact_lock(hashtext(p_merge_key));
        SELECT i.request_id INTO found_earlier FROM api_intake i
        LEFT JOIN requests r ON r.request_id = i.request_id
        WHERE i.merge_key = p_merge_key AND i.request_id <> p_request_id
          AND i.opened_at > now() - make_interval(secs => p_window_s)
          AND r.closed_at IS NULL
        ORDER BY i.opened_at DESC LIMIT 1;
        IF found_earlier IS NOT NULL THEN
            UPDATE api_intake SET reports = reports + 1 WHERE request_id = found_earlier;
            RETURN QUERY SELECT true, found_earlier;
            RETURN;
        END IF;
    END IF;
    INSERT INTO api_intake (request_id, bot_id, community_id, merge_key, command)
    VALUES (p_request_id, p_bot_id, p_community_id, p_merge_key, p_command)
    ON CONFLICT (request_id) DO NOTHING;
    RETURN QUERY SELECT true, NULL::text;
END
$$;
