-- One-time claim / report-back links of whistle and referral recipients (issue 14.4):
-- the hash of each link used, so a link works once. No link text, no personal data.
CREATE TABLE recipient_link_uses (
    link_sha256 text        PRIMARY KEY,
    used_at     timestamptz NOT NULL DEFAULT now(),
    request_id  text        NOT NULL,
    recipient   text        NOT NULL,
    action      text        NOT NULL,
    command_id  text        NOT NULL
);
