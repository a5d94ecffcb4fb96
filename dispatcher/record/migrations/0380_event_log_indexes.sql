-- Issue 18: every recorded event paid five index insertions. Two of them served no reader:
-- nothing looks the log up by community and time (reports go through `requests`), and
-- the (community_id, type) index is read only for the helper messages' three kinds
-- (dispatcher/record/read/helper_messages.py), a handful of rows among the offers and
-- answers. Those become a partial index that the other events do not touch. Kept: the key,
-- (request_id, occurred_at) for the reports' per-request counts, and caused_by for the
-- link reconciler and the rejection reason.
DROP INDEX IF EXISTS event_log_community_time;
CREATE INDEX event_log_helper_messages ON event_log (community_id, type)
    WHERE type IN ('helper_welcomed', 'helper_welcome_outcome', 'helper_summary_sent');
DROP INDEX IF EXISTS event_log_community_type;
