-- Issue 12.7: a request's contact and free text arrive sealed (dispatcher/sealing.py) and
-- are kept sealed; only the answer page opens them. The retention purge erases the box
-- with the rest of the row's personal data.
ALTER TABLE request_private ADD COLUMN sealed jsonb;
