-- Session 41: whether the requester left a phone, as the platform intake knew it (a group
-- bot's sender has none unless the household ledger gives one): the group loop then never
-- promises a call ("将电话联系指导") to a requester nobody can call. A plain flag, never
-- the phone. NULL: not known (threads from before, a merged report's co-report thread).
ALTER TABLE api_group_threads ADD COLUMN requester_phone boolean;
