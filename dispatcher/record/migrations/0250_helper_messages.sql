-- Issue 14 item 3: who was welcomed and whose month summary went out are events in the
-- log (helper_welcomed, helper_summary_sent); the staff commands look them up per community.
CREATE INDEX event_log_community_type ON event_log (community_id, type);
