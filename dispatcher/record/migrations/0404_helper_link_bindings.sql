-- Session 39: a helper's personal link (/l/h/…, sent in their welcome) acts only on the
-- browser that opened it first, as private offer links do (0260): forwarded to a friend, it
-- made the friend's phone that helper (accept their offers, see the requester's contact,
-- set them away). One row per helper: the link bound (its expiry `link_expires`, unix
-- seconds, names which of the helper's links: a newer one, e.g. a welcome sent again,
-- binds the browser that opens it first and the older ones stop) and a keyed hash of that
-- browser's random cookie, never the cookie. No personal data. Kept as long as the helper
-- (not purged with offer_device_bindings: the link lives a year); staff free it when the
-- helper changes phone (dispatcher/record/edge/helper_link_bindings.py `release`).
CREATE TABLE IF NOT EXISTS helper_link_bindings (
    community_id    text        NOT NULL,
    helper_id       text        NOT NULL,
    link_expires    bigint      NOT NULL,
    device_hash     text        NOT NULL,
    bound_at        timestamptz NOT NULL DEFAULT now(),
    refused         integer     NOT NULL DEFAULT 0,
    last_refused_at timestamptz,
    PRIMARY KEY (community_id, helper_id)
);
