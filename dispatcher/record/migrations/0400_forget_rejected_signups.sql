-- Review 38: a rejected sign-up now forgets, when staff reject it, the person's name,
-- building and channel as well as the profile (with the phone) and the phone's digest
-- (`forget` in dispatcher/record/edge/registrations.py): the person was never on the
-- roster, and names in `helper_registrations` are kept only while on the roster. No purge
-- or retirement ever reached a rejected sign-up, so those rejected before keep them; they
-- go here. The row stays (its id, keyed helper id, skills, who decided and when): staff's
-- list of rejected sign-ups shows it with an empty name and building. Approved and pending
-- sign-ups are untouched. Run again, it finds nothing left to do.
UPDATE helper_registrations
SET display_name = '', building_name = '', channel = NULL, profile = NULL, phone_key = NULL
WHERE status = 'rejected'
  AND (display_name <> '' OR building_name <> '' OR channel IS NOT NULL
       OR profile IS NOT NULL OR phone_key IS NOT NULL);
