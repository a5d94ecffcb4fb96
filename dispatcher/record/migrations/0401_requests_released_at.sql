-- Session 38: when a request held for its community's quiet hours was released
-- (RequestReleased: its ladder started, neighbours were first asked). The month report and
-- the dashboard measure time to first accept from here when the accept came after it, not
-- from the opening: a request opened at 23:00, released at 07:00 and accepted at 07:05
-- waited 5 minutes for a neighbour, not 8 hours (dispatcher/record/read/dashboard.py
-- `ASKED_FROM`; a staff-called team's accept before the release counts from its offer).
-- The first release is kept (a replayed event never reaches the read model twice; the core
-- releases a request once). NULL: never held, still held, or filled while held and never
-- released.
ALTER TABLE requests ADD COLUMN released_at timestamptz;

-- Requests released before this migration: from the log (kept without limit), one pass over
-- its rows of this kind; a second run changes nothing.
UPDATE requests q SET released_at = e.first
FROM (SELECT request_id, min(occurred_at) AS first FROM event_log
      WHERE type = 'request_released' GROUP BY request_id) e
WHERE q.request_id = e.request_id AND q.released_at IS NULL;
