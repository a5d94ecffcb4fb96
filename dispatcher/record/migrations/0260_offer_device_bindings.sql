-- Private offer links bound to the first device that opened them (issue 12, finding 1):
-- a keyed hash of that device's random cookie, never the cookie. No personal data: the
-- offer, its helper id (keyed, not reversible) and how often another device was refused.
CREATE TABLE offer_device_bindings (
    offer_id        text        PRIMARY KEY,
    helper_id       text        NOT NULL,
    device_hash     text        NOT NULL,
    bound_at        timestamptz NOT NULL DEFAULT now(),
    refused         integer     NOT NULL DEFAULT 0,
    last_refused_at timestamptz
);
