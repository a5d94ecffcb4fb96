-- Review 31 (regteams): one phone is one helper, and every sign-up is kept.
--
-- A ledger row with a 编号 keeps that id, while a sign-up's id is keyed from (community,
-- phone): approving the sign-up of a phone already on the roster made a second helper of
-- one person (two offers, two slots). The API keeps each roster helper's phone digest
-- (`KeyRing.phone_key`, an HMAC under the helper-id key, never the number), written
-- whenever it puts helpers on the roster (ledger import, staff upsert, approval) and
-- forgotten when it takes them off; an approval whose phone an active helper of the
-- community holds is refused. An API edge table, like `platform_accounts`: helpers
-- imported before this migration have no row until their ledger is imported again.
CREATE TABLE helper_phone_keys (
    community_id text        NOT NULL,
    helper_id    text        NOT NULL,
    phone_key    text        NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (community_id, helper_id)
);
CREATE INDEX helper_phone_keys_key ON helper_phone_keys (community_id, phone_key);

-- A pending sign-up's phone digest (cleared with its profile once decided): staff see in
-- their list that the phone is a roster helper's already.
ALTER TABLE helper_registrations ADD COLUMN phone_key text;

-- Every sign-up is kept, a second for the same phone too: keeping only the first let
-- whoever typed a neighbour's number first (with their own name and channel) hold the
-- neighbour's place, and the page's two answers told anyone with an invite whether a
-- number was signed up. Staff see how many pending sign-ups share a phone instead.
DROP INDEX helper_registrations_one_pending;
CREATE INDEX helper_registrations_pending_phone
    ON helper_registrations (community_id, helper_id) WHERE status = 'pending';
