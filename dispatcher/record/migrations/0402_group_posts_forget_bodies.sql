-- Session 38: a group post keeps its text only while it is unsent. The text of an
-- assignment may name the helper (who opted in to be named to the asking group); it was
-- recorded in the clear in `body` and kept after sending until the loop's purge (2 days).
-- Now a post naming a helper is recorded sealed (`sealed_body`, a box under the contact
-- key bound to the post's key; `body` NULL), and marking a post sent empties both
-- (dispatcher/record/edge/group_threads.py `add_pending`, `mark_sent`). The sweeper reads
-- them only of unsent posts. Sent posts recorded before lose their text here.
ALTER TABLE api_group_posts ADD COLUMN sealed_body jsonb;
UPDATE api_group_posts SET body = NULL WHERE sent_at IS NOT NULL AND body IS NOT NULL;
