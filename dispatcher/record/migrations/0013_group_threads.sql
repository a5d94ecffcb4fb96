-- Chat groups that asked for help through a platform robot, so the group hears back
-- (issue 13). A merged second report from another group is a second thread of the same
-- request. Owned by the API, like the other api_* tables.
CREATE TABLE api_group_threads (
    request_id      text        NOT NULL,
    bot_id          text        NOT NULL,
    group_id        text        NOT NULL,
    sender_id       text        NOT NULL,  -- the platform's opaque id, for cancel-by-reply
    session_webhook text,                  -- DingTalk's reply URL for this conversation
    session_expires timestamptz,
    reply_to        text,                  -- Feishu: the message the reply API answers
    closed          boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, bot_id, group_id)
);
CREATE INDEX api_group_threads_sender ON api_group_threads (bot_id, group_id, sender_id, created_at);

-- One row per group message posted: a replayed event never posts twice.
CREATE TABLE api_group_posts (
    post_key   text        PRIMARY KEY,
    posted_at  timestamptz NOT NULL DEFAULT now()
);
