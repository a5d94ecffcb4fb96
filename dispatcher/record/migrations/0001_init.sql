-- Append-only event log: every event the core emitted, once (upsert by event id).
CREATE TABLE event_log (
    seq          bigint GENERATED ALWAYS AS IDENTITY,  -- recording order
    event_id     text PRIMARY KEY,
    community_id text        NOT NULL,
    request_id   text,
    type         text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    caused_by    text        NOT NULL,
    body         jsonb       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_log_request ON event_log (request_id, occurred_at);
CREATE INDEX event_log_community_time ON event_log (community_id, occurred_at);

-- Read model: one row per request, its latest known status.
CREATE TABLE requests (
    request_id      text PRIMARY KEY,
    community_id    text        NOT NULL,
    category        text        NOT NULL,
    urgency         text        NOT NULL,
    helpers_needed  int         NOT NULL,
    status          text        NOT NULL,
    outcome         text,
    ring            text,
    step            int         NOT NULL DEFAULT 0,
    helpers_assigned int        NOT NULL DEFAULT 0,
    offers_sent     int         NOT NULL DEFAULT 0,
    emergency_advised text,               -- "120" etc. when the requester was told to call
    referral_advised text,                -- the ladder's last rung asked staff to hand on
    whistled_at     timestamptz,
    building_label  text,
    opened_at       timestamptz NOT NULL,
    first_offer_at  timestamptz,
    first_accept_at timestamptz,
    closed_at       timestamptz,
    rating          int,
    last_event_id   text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_community_opened ON requests (community_id, opened_at);
CREATE INDEX requests_open ON requests (status) WHERE closed_at IS NULL;

-- Sensitive request details (contact, exact place, free text) apart, so they can be purged
-- on their own schedule (PIPL: shortest retention) and never leak into reports.
CREATE TABLE request_private (
    request_id  text PRIMARY KEY REFERENCES requests (request_id) ON DELETE CASCADE,
    contact     jsonb NOT NULL DEFAULT '{}'::jsonb,
    place       jsonb NOT NULL DEFAULT '{}'::jsonb,
    text        text  NOT NULL DEFAULT '',
    purge_after timestamptz
);

CREATE TABLE offers (
    offer_id    text PRIMARY KEY,
    request_id  text        NOT NULL,
    helper_id   text        NOT NULL,
    ring        text        NOT NULL,
    step        int         NOT NULL,
    status      text        NOT NULL,  -- sent, accepted, declined, expired, failed, stood_down
    sent_at     timestamptz NOT NULL,
    expires_at  timestamptz,
    answered_at timestamptz
);
CREATE INDEX offers_request ON offers (request_id);
CREATE INDEX offers_helper ON offers (helper_id, sent_at);

CREATE TABLE assignments (
    request_id  text        NOT NULL,
    helper_id   text        NOT NULL,
    offer_id    text        NOT NULL,
    slot        int         NOT NULL,
    assigned_at timestamptz NOT NULL,
    released_at timestamptz,
    released_why text,
    PRIMARY KEY (request_id, helper_id)
);

CREATE TABLE helpers (
    helper_id    text PRIMARY KEY,
    community_id text        NOT NULL,
    display_name text        NOT NULL,
    profile      jsonb       NOT NULL,  -- full profile incl. phone: staff-only read model
    active       boolean     NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX helpers_community ON helpers (community_id);

-- Messages the agents could not decode or process (mirror of the dead-letter topic).
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    topic       text        NOT NULL,
    partition   int         NOT NULL,
    "offset"    bigint      NOT NULL,
    reason      text        NOT NULL,
    payload     bytea,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, partition, "offset")
);
