-- Who each community's ledger imports listed, per compound: an API edge table (like the
-- idempotency keys), so a re-import knows who left and retires them (soft: a
-- DeactivateHelper command; the helper's history stays). Numbered after the issue that
-- added it, so parallel branches' migrations do not collide.
CREATE TABLE roster_members (
    community_id text        NOT NULL,
    helper_id    text        NOT NULL,
    compound_id  text,
    display_name text        NOT NULL DEFAULT '',
    listed_at    timestamptz NOT NULL,
    retired_at   timestamptz,
    PRIMARY KEY (community_id, helper_id)
);
CREATE INDEX roster_members_compound ON roster_members (community_id, compound_id)
    WHERE retired_at IS NULL;
