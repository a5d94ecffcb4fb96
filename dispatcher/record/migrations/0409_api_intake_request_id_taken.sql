-- A request id already taken by an earlier request is reported, never dropped in silence
-- (session 41 audit). Request ids are derived from the caller's message id or
-- Idempotency-Key; the key is forgotten after a day (`bot_calls.purge`) but the intake row
-- is not, so a key used again after that was claimed afresh, the intake insert found the
-- earlier row (ON CONFLICT DO NOTHING), the command was sent, and the core dropped it as a
-- known request id: a 202 for a request nobody would ever dispatch.
--
-- `api_intake_submit_checked` is 0407's `api_intake_submit_with_repeat` (0370's function is
-- called, not copied: one merge rule) and says `taken` when the request id's intake row is
-- not this claim's own: another caller's, or opened longer ago than `p_retry_within_s`
-- (the keys' lifetime: a retry of the same claim - a key given back after a 5xx, an owner
-- taken over - comes within it; a purged key's row is older by construction, its key and
-- row written in one transaction). Then the key this call claimed is given back and nothing
-- else is written: the API answers 409 `request_id_taken` and sends nothing. A merged
-- report's repeat row also keeps which caller reported it (`bot_id`): only that caller
-- withdraws it by its own id. 0370's and 0407's functions stay for API instances of the
-- previous release (unchanged: they cannot return `taken`).
ALTER TABLE api_repeat_reports ADD COLUMN bot_id text;  -- NULL: written by an older API
CREATE INDEX api_repeat_reports_report ON api_repeat_reports (report_id);  -- a withdrawal's

CREATE FUNCTION api_intake_submit_checked(
    p_webhook_bot_id text, p_webhook_id text,
    p_bot_id text, p_key text, p_fingerprint text, p_request_id text,
    p_community_id text, p_merge_key text, p_command jsonb, p_window_s double precision,
    p_answer jsonb, p_issued_at timestamptz, p_retry_within_s double precision,
    OUT replayed boolean, OUT claimed boolean, OUT earlier text, OUT repeat_at timestamptz,
    OUT taken boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    earlier_row boolean;
BEGIN
    taken := false;
    -- Read before the claim: the same owner's concurrent copy is serialised by the key, and
    -- no other caller can derive this id (the owner is in it).
    SELECT NOT (i.bot_id IS NOT DISTINCT FROM p_bot_id
                AND i.opened_at > now() - make_interval(secs => p_retry_within_s))
    INTO earlier_row
    FROM api_intake i WHERE i.request_id = p_request_id;
    SELECT s.replayed, s.claimed, s.earlier INTO replayed, claimed, earlier
    FROM api_intake_submit(p_webhook_bot_id, p_webhook_id, p_bot_id, p_key, p_fingerprint,
        p_request_id, p_community_id, p_merge_key, p_command, p_window_s, p_answer) s;
    IF earlier IS NOT NULL THEN
        INSERT INTO api_repeat_reports (request_id, report_id, community_id, issued_at, bot_id)
        VALUES (earlier, p_request_id, p_community_id, p_issued_at, p_bot_id)
        ON CONFLICT DO NOTHING;
        SELECT r.issued_at INTO repeat_at FROM api_repeat_reports r
        WHERE r.request_id = earlier AND r.report_id = p_request_id;
        RETURN;
    END IF;
    IF earlier_row AND claimed AND NOT replayed THEN
        taken := true;
        IF p_key IS NOT NULL THEN
            DELETE FROM api_idempotency WHERE bot_id = p_bot_id AND key = p_key;
        END IF;
    END IF;
END
$$;
