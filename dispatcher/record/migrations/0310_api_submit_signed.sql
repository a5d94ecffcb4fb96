-- A signed bot's help request in one round trip (issue 18): the webhook-id claim (replay
-- protection, formerly its own INSERT from the bot authentication), then api_submit (0180:
-- the idempotency claim, the merge under the advisory lock, the intake row), then, for a new
-- request under a newly claimed key, its answer stored with the key, still `in_flight`
-- (formerly stored in its own round trip after Kafka's ack). All in one transaction.
-- replayed = true: this bot already presented this webhook-id; nothing was written, and the
-- request is refused (409 replayed) before anything else happens, exactly as the separate
-- claim refused it. p_webhook_id NULL (staff): no webhook-id claim.
-- An answer stored while `in_flight` means "acknowledged once Kafka has the command": the
-- owner marks it `done` after its 202; a retry meeting it first re-sends the intake row's
-- command and waits for Kafka's ack before it answers (dispatcher/api/idempotency.py).
-- api_submit (8 arguments) stays for API instances of the previous release.
ALTER TABLE api_idempotency ADD COLUMN request_id text;

CREATE FUNCTION api_submit_signed(
    p_webhook_bot_id text, p_webhook_id text,
    p_bot_id text, p_key text, p_fingerprint text, p_request_id text,
    p_community_id text, p_merge_key text, p_command jsonb, p_window_s double precision,
    p_answer jsonb)
RETURNS TABLE (replayed boolean, claimed boolean, earlier text)
LANGUAGE plpgsql AS $$
DECLARE
    v_claimed boolean;
    v_earlier text;
BEGIN
    IF p_webhook_id IS NOT NULL THEN
        INSERT INTO api_webhook_ids (bot_id, webhook_id) VALUES (p_webhook_bot_id, p_webhook_id)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN QUERY SELECT true, false, NULL::text;
            RETURN;
        END IF;
    END IF;
    SELECT s.claimed, s.earlier INTO v_claimed, v_earlier
    FROM api_submit(p_bot_id, p_key, p_fingerprint, p_request_id, p_community_id,
                    p_merge_key, p_command, p_window_s) s;
    IF p_key IS NOT NULL AND p_answer IS NOT NULL AND v_claimed AND v_earlier IS NULL THEN
        UPDATE api_idempotency SET status_code = 202, response = p_answer,
            request_id = p_request_id
        WHERE bot_id = p_bot_id AND key = p_key AND state = 'in_flight';
    END IF;
    RETURN QUERY SELECT false, v_claimed, v_earlier;
END
$$;
