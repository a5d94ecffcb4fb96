-- The accepted helper's own buttons (issue 14 item 3): "on my way" and "done" with the
-- service minutes the core counted. Service hours in reports come from minutes_spent only.
-- `remote`: the helper guides by phone (the page asks them to call, never to come).
ALTER TABLE assignments
    ADD COLUMN remote        boolean NOT NULL DEFAULT false,
    ADD COLUMN on_way_at     timestamptz,
    ADD COLUMN done_at       timestamptz,
    ADD COLUMN minutes_spent int CHECK (minutes_spent >= 0),
    ADD COLUMN minutes_given boolean;
