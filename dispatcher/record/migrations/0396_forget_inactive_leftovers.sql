-- Review 32: staff deactivating a helper (DELETE, or a profile saved inactive) now forgets
-- what the API keeps of them, as a ledger's retirement does (`_forget` in
-- dispatcher/record/edge/roster_members.py): their `roster_members` name (the row retired,
-- so the next ledger does not retire them again), their platform account, their phone's
-- digest (0395) and the name on their decided sign-ups (a pending one is theirs until
-- staff decide). Helpers deactivated before keep them; they go here.
--
-- Inactive is what the API reads (platform login, one phone one helper, sign-ups): the
-- worker's `helpers` row of that community with `active` false. Staff deactivations and
-- ledger retirements alike end there (a DeactivateHelper, or an upsert saved inactive); no
-- helper row is ever deleted, and a `roster_members.retired_at` alone may be a helper staff
-- made active again. A row written after the helper's last recorded update (a ledger or
-- an approval listing them again, its command not applied yet) is the helper coming back:
-- kept, as 0393 kept it. Each statement finds nothing left to do when run again.
UPDATE roster_members r
SET display_name = '', retired_at = coalesce(r.retired_at, h.updated_at)
FROM helpers h
WHERE h.community_id = r.community_id AND h.helper_id = r.helper_id AND NOT h.active
  AND r.listed_at <= h.updated_at
  AND (r.retired_at IS NULL OR r.display_name <> '');

DELETE FROM platform_accounts a
USING helpers h
WHERE h.community_id = a.community_id AND h.helper_id = a.helper_id
  AND NOT h.active AND a.updated_at <= h.updated_at;

DELETE FROM helper_phone_keys k
USING helpers h
WHERE h.community_id = k.community_id AND h.helper_id = k.helper_id
  AND NOT h.active AND k.updated_at <= h.updated_at;

UPDATE helper_registrations g
SET display_name = ''
FROM helpers h
WHERE h.community_id = g.community_id AND h.helper_id = g.helper_id AND NOT h.active
  AND g.status <> 'pending' AND g.display_name <> ''
  AND coalesce(g.decided_at, g.created_at) <= h.updated_at;
