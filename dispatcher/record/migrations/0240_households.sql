-- Households a community looks after (住户台账: 独居, 高龄, 失能 …) and their contact cards
-- (一户一联络卡): an API edge table, written by the household ledger import and read by
-- the card's intake (the household's place, tags and contact become the request's). The
-- card token is random, printed on the card as a link/QR code, and kept across re-imports.
CREATE TABLE households (
    community_id      text        NOT NULL,
    household_id      text        NOT NULL,
    place             jsonb       NOT NULL,
    tags              text[]      NOT NULL DEFAULT '{}',
    contact           jsonb       NOT NULL DEFAULT '{}',  -- personal: name, phone, address
    paired_helper_ids text[]      NOT NULL DEFAULT '{}',
    card_token        text        NOT NULL UNIQUE,
    listed_at         timestamptz NOT NULL,
    PRIMARY KEY (community_id, household_id)
);
