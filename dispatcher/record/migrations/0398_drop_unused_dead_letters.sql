-- Dead letters live in the dead-letter topic only (streams/dead_letter.py; the dashboard's
-- stream health and the `dispatch_dead_letters` metric count them there). This table, meant
-- as a mirror in 0001, was never written: an empty table read as "no dead letters" (review
-- 32's chaos run queried it). Dropped rather than left to mislead.
DROP TABLE IF EXISTS dead_letters;
