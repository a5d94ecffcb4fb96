-- A link's use keeps the command its press sends (an outbox, as `api_intake` is for
-- requests) and when Kafka acknowledged it. A press that finds the link used but never
-- acknowledged (its first press died between the claim and the ack) sends the stored
-- command again, same command id, which the worker applies once; so does the unrecorded
-- sweeper, exactly as pressed (a team leader's members included).
ALTER TABLE api_link_uses
    -- The command as sent (JSON); '' when the press sends nothing (a member confirming the
    -- sign-up their leader made); NULL on rows from before (re-built from the ids).
    ADD COLUMN command   text,
    ADD COLUMN queued_at timestamptz;  -- Kafka acknowledged it (NULL: not known to be)
ALTER TABLE recipient_link_uses
    ADD COLUMN command   text,         -- the command as sent (JSON); NULL on rows from before
    ADD COLUMN queued_at timestamptz;
-- Rows from before were answered as queued then: they stay so.
UPDATE api_link_uses SET queued_at = used_at;
UPDATE recipient_link_uses SET queued_at = used_at;
-- The sweeper's look-up: recipient uses whose command Kafka never acknowledged.
CREATE INDEX recipient_link_uses_unqueued ON recipient_link_uses (used_at)
    WHERE queued_at IS NULL;
