-- Platform in-app logins for offer links (issue 12): one row per callback, for the
-- community's audit and so a code is accepted once (code_hash is unique). Hashes only: no
-- codes, no platform user ids. An API edge table. Numbered 0112 (issue 12's second table
-- set) so parallel branches' migrations do not collide.
CREATE TABLE platform_logins (
    id         bigserial   PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    platform   text        NOT NULL,
    code_hash  text        UNIQUE,   -- NULL when the attempt failed before a code was read
    helper_id  text,                 -- whose link it was
    outcome    text        NOT NULL  -- ok | not_the_helper | code_refused | state_mismatch …
);
CREATE INDEX platform_logins_helper_at ON platform_logins (helper_id, at);
