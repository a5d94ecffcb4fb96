-- Review 30, finding 1: a household id a ledger wrote as it is ("A101") was kept as it is,
-- so another compound's ledger with its own "A101" took over the household (its card then
-- sent that compound's phone and address). Ids are now their compound's: the import puts
-- such an id in its compound, "hh-<compound>-A101" (dispatcher/roster/places.py), and the
-- households stored under the old form move there, keeping their card token, so the next
-- import of the same ledger finds them. Ids already of the compound ("hh-<compound>-…",
-- what rooms became) and the digests long ids became ("hh-" + 10 hex) stay.
WITH moving AS (
    SELECT community_id, household_id,
           'hh-' || (place->>'compound_id') || '-' || household_id AS qualified
    FROM households
    WHERE place->>'compound_id' IS NOT NULL
      AND NOT starts_with(household_id, 'hh-' || (place->>'compound_id') || '-')
      AND household_id !~ '^hh-[0-9a-f]{10}$'
), renamed AS (
    -- At most 64 characters, as `_qualified` there: a longer id becomes the first 10 hex
    -- of the SHA-256 of "household\n" + the id.
    SELECT community_id, household_id,
           CASE WHEN length(qualified) <= 64 THEN qualified
                ELSE 'hh-' || left(encode(sha256(
                         convert_to('household' || E'\n' || qualified, 'UTF8')), 'hex'), 10)
           END AS new_id
    FROM moving
)
UPDATE households h
SET household_id = r.new_id,
    place = jsonb_set(h.place, '{household_id}', to_jsonb(r.new_id))
FROM renamed r
WHERE h.community_id = r.community_id AND h.household_id = r.household_id
  -- An id taken already (a ledger wrote "hh-<compound>-A101" itself) leaves the row as it
  -- is rather than failing the migration.
  AND NOT EXISTS (
      SELECT 1 FROM households o WHERE o.community_id = r.community_id AND o.household_id = r.new_id
  );

-- Finding 2: personal data is kept while listed. Retiring now erases a household's contact
-- and tags (its place and card token stay, so listing it again revives the same card) and a
-- roster member's name; rows retired before this lose them here.
UPDATE households SET contact = '{}', tags = '{}' WHERE retired_at IS NOT NULL;
UPDATE roster_members SET display_name = '' WHERE retired_at IS NOT NULL;
