-- Team offers (issue 14 item 5): an offer made to a team's leader, who may accept for
-- several members; the assignment then holds that many slots.
ALTER TABLE offers ADD COLUMN team_id text;
ALTER TABLE offers ADD COLUMN team_size int;
ALTER TABLE assignments ADD COLUMN members int NOT NULL DEFAULT 1;
