-- Session 42: whether an offer asks the helper to guide by phone (`WaveOffer.remote`: a
-- need searched community-wide, e.g. a nurse on the phone), so the link's page asks them to
-- call, not to come (dispatcher/api/offer_pages.py). Rows recorded before read false: the
-- in-person wording they were shown until now. ADD COLUMN with a constant default rewrites
-- nothing (PostgreSQL 11+).
ALTER TABLE offers ADD COLUMN IF NOT EXISTS remote boolean NOT NULL DEFAULT false;
