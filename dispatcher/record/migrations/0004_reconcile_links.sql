-- The reconciler finds accepted/declined links whose command never took effect (no event
-- was caused by it) and sends the same command again.
ALTER TABLE api_link_uses ADD COLUMN resent int NOT NULL DEFAULT 0;
CREATE INDEX event_log_caused_by ON event_log (caused_by);
