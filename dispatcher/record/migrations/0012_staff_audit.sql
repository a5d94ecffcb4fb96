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
