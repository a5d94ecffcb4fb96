-- Team members tracked one by one (issue 14 item 5): a leader names who goes, and each
-- named member has an assignment row of their own; `signed_up_by` is the leader who
-- signed them up (NULL for an assignment the helper accepted themselves).
ALTER TABLE assignments ADD COLUMN signed_up_by text;
-- What the leader's checklist offers: each helper's teams (belongs to or leads), from the
-- core's `helper_updated` events, and the ledger's row order (`roster_members.position`,
-- written by the API at a ledger import). The core checks membership again on accept.
ALTER TABLE helpers ADD COLUMN teams text[] NOT NULL DEFAULT '{}';
ALTER TABLE roster_members ADD COLUMN position int;
