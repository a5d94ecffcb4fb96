-- Session 43: the request's place as the intake raised it (its spec's grid, compound and
-- building ids, as JSON; ids only: never a unit, floor, household or name), on the thread of
-- the group that raised it. The group loop tells that group whether the whistle called
-- anyone from this place, the one the worker's push engine calls for (the request's own,
-- fixed at intake): the group's place in the live bots configuration is another once the
-- group is re-pointed while the request is open. NULL: not known (threads from before, a
-- merged report's co-report thread): the loop reads the group's live place, as before.
ALTER TABLE api_group_threads ADD COLUMN request_place jsonb;
