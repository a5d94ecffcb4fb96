-- Team members tracked one by one (issue 14 item 5): a leader names who goes, and each
-- named member has an assignment row of their own; `signed_up_by` is the leader who
-- signed them up (NULL for an assignment the helper accepted themselves).
ALTER TABLE assignments ADD COLUMN signed_up_by text;
-- What the leader's checklist offers: the ledger's row order (`position`) and the teams
-- each listed helper belongs to or leads (the API writes both at a ledger import; the
-- core checks membership again against its own roster when the leader accepts).
ALTER TABLE roster_members ADD COLUMN position int;
ALTER TABLE roster_members ADD COLUMN teams text[] NOT NULL DEFAULT '{}';
