-- A report merged into an open request keeps its `ReportRepeated` (the outbox, as
-- `api_intake.command` is for a new request's): written in the merge's own transaction, so
-- an API that dies or a Kafka that refuses between the merge and the send loses nothing
-- (before, the command was only built after the statement: a merge committed, and the
-- climb to the whistle it asks for never sent). The API sends it after the statement and
-- marks it queued once Kafka acknowledged it (or once it found somebody already on the
-- request: nothing to send); the unrecorded sweeper sends one left unqueued. The command is
-- rebuilt from the row (`schemas.commands.repeat_command`): its id derived from both
-- request ids (a bot's retry of the message is the same command, one row), its time the
-- first copy's (the core decides with it). Ids and times only: no personal data.
CREATE TABLE api_repeat_reports (
    request_id   text        NOT NULL,  -- the open request the report was merged into
    report_id    text        NOT NULL,  -- the merged report's own (message-derived) id
    community_id text        NOT NULL,
    issued_at    timestamptz NOT NULL,  -- the command's time
    opened_at    timestamptz NOT NULL DEFAULT now(),
    queued_at    timestamptz,           -- Kafka acknowledged it, or nothing was to be sent
    PRIMARY KEY (request_id, report_id)
);
CREATE INDEX api_repeat_reports_unqueued ON api_repeat_reports (opened_at)
    WHERE queued_at IS NULL;

-- `api_intake_submit` (0370), and in the same transaction, should it merge the report, the
-- report's `ReportRepeated` stored (`p_issued_at`: its time; `repeat_at`: the stored one's,
-- a retry's first copy's). 0370's function is called, not copied: one merge rule. It also
-- stays for API instances of the previous release.
CREATE FUNCTION api_intake_submit_with_repeat(
    p_webhook_bot_id text, p_webhook_id text,
    p_bot_id text, p_key text, p_fingerprint text, p_request_id text,
    p_community_id text, p_merge_key text, p_command jsonb, p_window_s double precision,
    p_answer jsonb, p_issued_at timestamptz,
    OUT replayed boolean, OUT claimed boolean, OUT earlier text, OUT repeat_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    SELECT s.replayed, s.claimed, s.earlier INTO replayed, claimed, earlier
    FROM api_intake_submit(p_webhook_bot_id, p_webhook_id, p_bot_id, p_key, p_fingerprint,
        p_request_id, p_community_id, p_merge_key, p_command, p_window_s, p_answer) s;
    IF earlier IS NOT NULL THEN
        INSERT INTO api_repeat_reports (request_id, report_id, community_id, issued_at)
        VALUES (earlier, p_request_id, p_community_id, p_issued_at)
        ON CONFLICT DO NOTHING;
        SELECT r.issued_at INTO repeat_at FROM api_repeat_reports r
        WHERE r.request_id = earlier AND r.report_id = p_request_id;
    END IF;
END
$$;
