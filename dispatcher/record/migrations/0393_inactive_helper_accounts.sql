-- Review 31: a helper off the roster keeps nothing that reaches or names them (review 30
-- erased their phone, name and platform user id from the worker's profile, and their name
-- from `roster_members` when a ledger retires them; 0391 erased the names of members
-- retired before). Their platform account, the keyed hash of that platform user id the
-- answer page's login looks up, is kept no longer either: a ledger's retirement now
-- deletes it with the name (dispatcher/record/edge/roster_members.py), and the rows of
-- helpers retired, or deactivated, before go here. The login only ever matched an active
-- helper's account, and a ledger or staff listing the helper again writes it again. A row
-- written after the helper left (such a listing, its commands not yet applied) stays.
DELETE FROM platform_accounts a
USING roster_members r
WHERE r.community_id = a.community_id AND r.helper_id = a.helper_id
  AND r.retired_at IS NOT NULL AND a.updated_at <= r.retired_at;

DELETE FROM platform_accounts a
USING helpers h
WHERE h.community_id = a.community_id AND h.helper_id = a.helper_id
  AND NOT h.active AND a.updated_at <= h.updated_at;
