-- Session 34: the event log keeps no name and no closing note. It is kept for reports without
-- limit, and these were kept in it for good though nothing read them there: what a requester
-- or staff typed when a request ended (`sealed_note`, a box under the contact key) and the
-- helper's name for the asking group (`sealed_group_name`; plain `group_name` in events from
-- before issue 12.7). The group loop and the notify agent read them from Kafka, whose topics
-- keep them 168 h; the record agent no longer writes them to the log
-- (dispatcher/record/projection_rows.py `log_body`). One pass over the log's rows of these
-- kinds; a second run changes nothing.
UPDATE event_log SET body = body - 'sealed_note'
WHERE type IN ('request_resolved', 'request_cancelled', 'request_referred')
  AND body ? 'sealed_note';

UPDATE event_log SET body = body - 'sealed_group_name' - 'group_name'
WHERE type = 'helper_assigned'
  AND (body ? 'sealed_group_name' OR body ? 'group_name');
