-- API-owned tables (written only by the HTTP API, never by the record agent). Dispatch
-- state still changes only through Kafka commands; these only make the edge safe.
-- None of them holds a phone number, an address or free text.

-- Standard Webhooks replay protection: a webhook-id is accepted once per bot. Rows older
-- than twice the timestamp tolerance are purged (a stale timestamp is rejected anyway).
CREATE TABLE api_webhook_ids (
    bot_id     text        NOT NULL,
    webhook_id text        NOT NULL,
    seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, webhook_id)
);
CREATE INDEX api_webhook_ids_seen ON api_webhook_ids (seen_at);

-- Idempotency keys (IETF Idempotency-Key draft): a retry gets the stored answer; a
-- concurrent duplicate gets 409; the same key with another payload gets 422.
CREATE TABLE api_idempotency (
    bot_id      text        NOT NULL,
    key         text        NOT NULL,
    fingerprint text        NOT NULL,  -- sha256 of the canonical request
    state       text        NOT NULL CHECK (state IN ('in_flight', 'done')),
    status_code int,
    response    jsonb,                 -- ids and the reply text only, no personal data
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, key)
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);

-- Requests the API queued: who submitted them (for status/cancel authorisation before the
-- read model has caught up) and the merge key for the same incident reported twice.
CREATE TABLE api_intake (
    request_id   text PRIMARY KEY,
    bot_id       text,
    community_id text        NOT NULL,
    merge_key    text,                 -- community|compound|building|category, or NULL
    opened_at    timestamptz NOT NULL DEFAULT now(),
    reports      int         NOT NULL DEFAULT 1
);
CREATE INDEX api_intake_merge ON api_intake (merge_key, opened_at) WHERE merge_key IS NOT NULL;

-- Offer links are single-use per (action, offer): the first POST claims the row and sends
-- the command; later POSTs show the outcome recorded here.
CREATE TABLE api_link_uses (
    use_key     text PRIMARY KEY,      -- "accept:<offer_id>" / "decline:<offer_id>"
    command_id  text        NOT NULL,
    action      text        NOT NULL,
    request_id  text        NOT NULL,
    offer_id    text        NOT NULL,
    helper_id   text        NOT NULL,
    used_at     timestamptz NOT NULL DEFAULT now(),
    outcome     text,                  -- assigned, covered, declined, closed, … (NULL: pending)
    outcome_at  timestamptz
);
