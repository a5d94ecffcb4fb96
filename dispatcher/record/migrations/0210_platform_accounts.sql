-- Which helper a chat-platform account is, per community (issue 12): the answer page for
-- group offers (/l/me) logs a helper in through the platform and needs the roster's
-- helper for the platform user id it is given. An API edge table, written when staff
-- upsert helpers or import a ledger. No platform ids: a keyed hash (HMAC with a key
-- derived from the link secret), so the table alone names nobody.
CREATE TABLE platform_accounts (
    community_id text        NOT NULL,
    helper_id    text        NOT NULL,
    account_hash text        NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (community_id, helper_id)
);
CREATE INDEX platform_accounts_hash ON platform_accounts (community_id, account_hash);
