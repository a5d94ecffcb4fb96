-- Issue 14 item 2: a household ledger re-import retires the households of its compounds it
-- no longer lists (soft: the row, its card token and its history stay; the card stops
-- making requests and says so). Listing the household again revives it (retired_at NULL).
ALTER TABLE households ADD COLUMN retired_at timestamptz;
CREATE INDEX households_listed ON households (community_id, (place->>'compound_id'))
    WHERE retired_at IS NULL;
