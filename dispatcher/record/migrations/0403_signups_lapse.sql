-- Review 38: a helper's sign-up staff never decide lapses. It kept the person's name,
-- building, channel, profile (with the phone, plain) and phone digest for good: nothing
-- but a staff decision ever cleared them. The purge (dispatcher/record/retention.py, the
-- API's hourly run or `python -m dispatcher purge`) now marks pending sign-ups made more
-- than `DISPATCH_SIGNUP_PENDING_DAYS` (default 30) ago 'lapsed' and clears what a rejection
-- clears (`lapse` in dispatcher/record/edge/registrations.py); `decided_at` is when it
-- lapsed, `decided_by` stays NULL. Pending sign-ups already that old lapse at the first
-- purge after this migration, not here (the days are a setting). The person may sign up
-- again: only pending sign-ups count per phone (0395).
ALTER TABLE helper_registrations DROP CONSTRAINT IF EXISTS helper_registrations_status_check;
ALTER TABLE helper_registrations ADD CONSTRAINT helper_registrations_status_check
    CHECK (status IN ('pending', 'approved', 'rejected', 'lapsed'));
-- What the purge looks for every hour.
CREATE INDEX IF NOT EXISTS helper_registrations_pending_since
    ON helper_registrations (created_at) WHERE status = 'pending';
