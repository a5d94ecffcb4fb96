-- A request held for the community's quiet hours (RequestHeld) reads "held until …" in the
-- status API and on the dashboard instead of "open": nobody has been asked yet, on purpose.
-- Cleared when it is released (RequestReleased); ignored once the request is closed.
ALTER TABLE requests ADD COLUMN held_until timestamptz;
