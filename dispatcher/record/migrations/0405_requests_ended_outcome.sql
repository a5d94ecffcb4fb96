-- Session 39: a request still held by a helper when its lifetime ended was closed by the
-- core as resolved by the system (dispatcher/core/ladder.py `end_of_lifetime`: nobody
-- pressed 已完成, the helper may never have come), and the read model stored it as
-- outcome 'resolved': the dashboard showed it as 已解决 and counted it, with the month
-- report, among the requests resolved. Its outcome is 'ended' now (status stays the core's
-- 'resolved'), counted apart (dispatcher/record/projection_rows.py `closing_outcome`).
-- No constraint on the column: a plain value.

-- Requests closed so before this migration: from the log (kept without limit), its
-- request_resolved event by the system; a second run changes nothing.
UPDATE requests q SET outcome = 'ended'
FROM event_log e
WHERE e.request_id = q.request_id AND e.type = 'request_resolved' AND e.body->>'by' = 'system'
  AND q.outcome = 'resolved';
