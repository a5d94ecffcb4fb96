-- Staff actions on requests (issue 14.4): who claimed a request and where it was referred,
-- in the read model; and one audit row per action a staff member (or a called recipient
-- through a link) took: who, when, what, the command it became. Names only, never tokens.
ALTER TABLE requests
    ADD COLUMN claimed_by          text,
    ADD COLUMN claimed_at          timestamptz,
    ADD COLUMN referred_to         text,
    ADD COLUMN referred_department text;

CREATE TABLE staff_actions (
    id           bigserial   PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text        NOT NULL,  -- staff account name, or recipient:<id> for a link
    action       text        NOT NULL,  -- claim, refer, resolve, cancel, report_back
    request_id   text        NOT NULL,
    community_id text        NOT NULL,
    command_id   text        NOT NULL UNIQUE,
    detail       text        NOT NULL DEFAULT '',  -- e.g. the referral target
    via          text        NOT NULL,  -- dashboard, api, link
    queued       boolean     NOT NULL DEFAULT false  -- true once Kafka acknowledged it
);
CREATE INDEX staff_actions_request ON staff_actions (request_id, at);
CREATE INDEX staff_actions_actor ON staff_actions (actor, at);
