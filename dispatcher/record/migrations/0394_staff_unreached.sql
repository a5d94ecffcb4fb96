-- A whistle or referral whose pushes reached none of the people it called (StaffNotReached):
-- the rung, 'whistle' or 'referral' (the last one lost), so the dashboard says "值班人员未联系上"
-- instead of showing staff as called. NULL: every call reached someone, or none was made.
ALTER TABLE requests ADD COLUMN staff_unreached text;
