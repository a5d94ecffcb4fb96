-- Self-registration by invite link (握手行动, issue 14 item 3): a resident's sign-up waits
-- here for staff of its community. `profile` is the helper profile to upsert on approval;
-- it holds the phone, so it is cleared as soon as the sign-up is decided (approved: the
-- roster has it through the one write path; rejected: nobody needs it).
CREATE TABLE helper_registrations (
    registration_id text PRIMARY KEY,
    community_id    text        NOT NULL,
    helper_id       text        NOT NULL,  -- keyed from (community, phone): not reversible
    display_name    text        NOT NULL,
    building_name   text        NOT NULL,
    skills          text[]      NOT NULL,
    channel         text,
    profile         jsonb,
    invite_nonce    text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at      timestamptz NOT NULL,
    decided_at      timestamptz,
    decided_by      text
);
CREATE INDEX helper_registrations_community ON helper_registrations (community_id, status);
-- One pending sign-up per person: signing up twice replaces nothing and queues nothing.
CREATE UNIQUE INDEX helper_registrations_one_pending
    ON helper_registrations (helper_id) WHERE status = 'pending';
