-- Who of the staff did what, when (issue 12): one row per authenticated staff request.
-- Names and routes only: no request bodies, no personal data.
CREATE TABLE staff_audit (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    staff        text        NOT NULL,
    method       text        NOT NULL,
    route        text        NOT NULL,
    community_id text
);
CREATE INDEX staff_audit_staff_at ON staff_audit (staff, at);

-- Every time a requester's contact was shown to a helper (issue 12): for the community's
-- audit. The accepting answer and each later view from the accepting device.
CREATE TABLE contact_views (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    request_id text        NOT NULL,
    offer_id   text        NOT NULL,
    helper_id  text        NOT NULL,
    via        text        NOT NULL  -- "accept" (the POST answer) or "revisit"
);
CREATE INDEX contact_views_request ON contact_views (request_id, at);
