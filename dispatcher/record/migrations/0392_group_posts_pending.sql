-- Group messages are recorded before they are sent (rev30 groupchat finding 1): a post is
-- pending until a send succeeds, so an API stopped mid-send, a PostgreSQL error or a robot
-- down for a while no longer loses it; the API's sweeper retries it with backoff while it
-- is news (an hour). `lease`/`lease_until`: the one sender working on it now, or when it
-- may be tried again. The thread's reply channel is kept with the post, as it was when
-- the post was made (a merged report's reply answers that report's message).
ALTER TABLE api_group_posts
    ADD COLUMN request_id      text,
    ADD COLUMN bot_id          text,
    ADD COLUMN group_id        text,
    ADD COLUMN session_webhook text,
    ADD COLUMN session_expires timestamptz,
    ADD COLUMN reply_to        text,
    ADD COLUMN body            text,
    ADD COLUMN sent_at         timestamptz,
    ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
    ADD COLUMN lease           uuid,
    ADD COLUMN lease_until     timestamptz NOT NULL DEFAULT now();
-- Claims made before this migration were sent (or given up on) already.
UPDATE api_group_posts SET sent_at = posted_at;
CREATE INDEX api_group_posts_pending ON api_group_posts (lease_until) WHERE sent_at IS NULL;
