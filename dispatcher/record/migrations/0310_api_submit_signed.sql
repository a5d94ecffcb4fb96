-- A signed bot's help request in one round trip (issue 18): the webhook-id claim (replay
-- protection, formerly its own INSERT from the bot authentication) and then api_submit
-- (0180: the idempotency claim, the merge under the advisory lock, the intake row), in one
-- transaction. replayed = true: this bot already presented this webhook-id; nothing was
-- written, and the request is refused (409 replayed) before anything else happens, exactly
-- as the separate claim refused it. p_webhook_id NULL (staff): api_submit alone.
-- api_submit (8 arguments) stays for API instances of the previous release.
CREATE FUNCTION api_submit_signed(
    p_webhook_bot_id text, p_webhook_id text,
    p_bot_id text, p_key text, p_fingerprint text, p_request_id text,
    p_community_id text, p_merge_key text, p_command jsonb, p_window_s double precision)
RETURNS TABLE (replayed boolean, claimed boolean, earlier text)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_webhook_id IS NOT NULL THEN
        INSERT INTO api_webhook_ids (bot_id, webhook_id) VALUES (p_webhook_bot_id, p_webhook_id)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN QUERY SELECT true, false, NULL::text;
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT false, s.claimed, s.earlier
    FROM api_submit(p_bot_id, p_key, p_fingerprint, p_request_id, p_community_id,
                    p_merge_key, p_command, p_window_s) s;
END
$$;
