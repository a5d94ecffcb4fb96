-- The acknowledged SubmitRequest itself, kept until the worker has recorded the request:
-- the API's reconciler re-sends it (same command id: the core ignores a known request) if it
-- has not reached the read model in time, whatever went wrong between Kafka and the worker.
-- It holds the requester's contact, so it is cleared as soon as the request is recorded.
ALTER TABLE api_intake
    ADD COLUMN command      jsonb,
    ADD COLUMN resent       int NOT NULL DEFAULT 0,
    ADD COLUMN confirmed_at timestamptz;
CREATE INDEX api_intake_unconfirmed ON api_intake (opened_at) WHERE confirmed_at IS NULL;
