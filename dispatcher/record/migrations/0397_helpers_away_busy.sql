-- Away and busy in the helpers read model (from helper_updated), so that a team leader's
-- checklist leaves out members the core would refuse (`member_unavailable`). Rows from
-- before this read false until the helper's next update: the core still refuses them.
ALTER TABLE helpers ADD COLUMN away boolean NOT NULL DEFAULT false,
                    ADD COLUMN busy boolean NOT NULL DEFAULT false;
