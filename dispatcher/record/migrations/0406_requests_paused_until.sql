-- Session 40: a normal or low request already climbing its ladder when the community's
-- quiet hours begin pauses through them (RequestPaused: nobody new is asked until
-- `until`). The dashboard showed it as open, as if neighbours were being asked now; it
-- shows it paused until `paused_local` (the community's HH:MM) while `paused_until` is
-- ahead (dispatcher/record/read/dashboard.py `OPEN_SQL`). No event marks the ladder going
-- on at that time, so the column is not cleared: readers compare it with now. Not a hold:
-- `held_until` and `released_at` (time to first accept) are untouched.
ALTER TABLE requests ADD COLUMN paused_until timestamptz;
ALTER TABLE requests ADD COLUMN paused_local text;

-- Requests paused before this migration: their latest pause from the log; a second run
-- changes nothing.
UPDATE requests q SET paused_until = (e.body->>'until')::timestamptz,
                      paused_local = e.body->>'local_time'
FROM (SELECT DISTINCT ON (request_id) request_id, body FROM event_log
      WHERE type = 'request_paused' ORDER BY request_id, occurred_at DESC) e
WHERE q.request_id = e.request_id;
