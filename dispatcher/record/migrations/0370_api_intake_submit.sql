-- A signed bot's help request in one statement, cheaper (issue 18): the same steps in the
-- same order and one transaction as api_submit_signed (0310), which stays for API instances
-- of the previous release: the webhook-id claim (a replay: nothing written), the
-- idempotency claim (a known key: nothing else written), the merge check under the merge
-- key's advisory lock, the intake row (the outbox copy). What changed, and why:
-- * one function, not api_submit_signed calling api_submit through a set-returning call
--   (its result materialised, and a RETURN QUERY executor run per exit);
-- * one row returned through OUT parameters (no set-returning function, no tuplestore);
-- * the answer to a new request goes in with the key's claim (one row written once) rather
--   than by an UPDATE of the row just inserted; should the report be merged instead, the
--   answer is taken back out in the same transaction, so nobody ever sees it: as before, a
--   merged report's key holds no answer while in flight.
CREATE FUNCTION api_intake_submit(
    p_webhook_bot_id text, p_webhook_id text,
    p_bot_id text, p_key text, p_fingerprint text, p_request_id text,
    p_community_id text, p_merge_key text, p_command jsonb, p_window_s double precision,
    p_answer jsonb,
    OUT replayed boolean, OUT claimed boolean, OUT earlier text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    replayed := false;
    claimed := true;
    IF p_webhook_id IS NOT NULL THEN
        INSERT INTO api_webhook_ids (bot_id, webhook_id) VALUES (p_webhook_bot_id, p_webhook_id)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            replayed := true;
            claimed := false;
            RETURN;
        END IF;
    END IF;
    IF p_key IS NOT NULL THEN
        INSERT INTO api_idempotency
            (bot_id, key, fingerprint, state, status_code, response, request_id)
        VALUES (p_bot_id, p_key, p_fingerprint, 'in_flight',
                CASE WHEN p_answer IS NOT NULL THEN 202 END, p_answer,
                CASE WHEN p_answer IS NOT NULL THEN p_request_id END)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            claimed := false;
            RETURN;
        END IF;
    END IF;
    IF p_merge_key IS NOT NULL THEN
        -- The same lock key as 0180 (hashtext of the merge key): old and new API instances
        -- still serialise against each other.
        PERFORM pg_advisory_xact_lock(hashtext(p_merge_key));
        SELECT i.request_id INTO earlier FROM api_intake i
        LEFT JOIN requests r ON r.request_id = i.request_id
        WHERE i.merge_key = p_merge_key AND i.request_id <> p_request_id
          AND i.opened_at > now() - make_interval(secs => p_window_s)
          AND r.closed_at IS NULL
        ORDER BY i.opened_at DESC LIMIT 1;
        IF earlier IS NOT NULL THEN
            UPDATE api_intake SET reports = reports + 1 WHERE request_id = earlier;
            IF p_key IS NOT NULL AND p_answer IS NOT NULL THEN
                UPDATE api_idempotency SET status_code = NULL, response = NULL, request_id = NULL
                WHERE bot_id = p_bot_id AND key = p_key;
            END IF;
            RETURN;
        END IF;
    END IF;
    INSERT INTO api_intake (request_id, bot_id, community_id, merge_key, command)
    VALUES (p_request_id, p_bot_id, p_community_id, p_merge_key, p_command)
    ON CONFLICT (request_id) DO NOTHING;
END
$$;
