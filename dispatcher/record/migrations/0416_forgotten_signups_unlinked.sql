-- Session 42 (audit F6): a rejected or lapsed sign-up forgot the person (0400, 0403) but
-- kept `helper_id`, the keyed digest of (community, phone) (dispatcher/helper_ids.py
-- `keyed_helper_id`): the same number signing up again - the person, or anyone typing it -
-- gets the same id, so the forgotten row was linked to the new one, in the table and in
-- staff's `?status=rejected`/`lapsed` list. Rejecting and lapsing now set it to
-- 'forgotten-' || registration_id (`forget`, `lapse` in dispatcher/record/edge/registrations.py);
-- here the rows forgotten before. Nothing reads a decided row's id (a decision of it is
-- refused, 409 already_decided). Approved sign-ups keep theirs (the roster's); pending ones
-- are untouched. Run again, it finds nothing left to do.
UPDATE helper_registrations SET helper_id = 'forgotten-' || registration_id
WHERE status IN ('rejected', 'lapsed')
  AND helper_id <> 'forgotten-' || registration_id;
