-- Session 41: the personal page's held note (dispatcher/record/read/assignments.py
-- `presence_held`) finds the requests referred to 120/110/119 that may still hold a helper:
-- referred at most `HOLD_CAP` (3 h) ago. It read them from event_log by community and type,
-- an index that no longer covers request_referred (0380), so every referral the community
-- ever had was read. Referred requests by community and closing time: the read is bounded
-- by the cap, not by history. Partial: only referred rows are indexed.
CREATE INDEX requests_referred_closed ON requests (community_id, closed_at)
    WHERE status = 'referred';
