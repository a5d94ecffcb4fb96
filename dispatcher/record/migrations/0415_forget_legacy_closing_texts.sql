-- Session 42 (audit F1): what was typed when a request ended, and platforms' error texts, as
-- releases before sealing (session 32) and masking (session 34) logged them, in the clear.
-- 0399 took the sealed boxes and names out of the event log, not these plain fields, and the
-- log is kept without limit: a requester's cancel reason or a resolve/referral note ("王阿姨
-- 住3号楼2单元502", a phone) stayed for good. New rows carry none of it (the note is sealed,
-- `seal_closing` in dispatcher/sealing.py; the department and failure reasons are masked,
-- `masked` in dispatcher/redact.py, `short` in dispatcher/push/channels/base.py). Here:
--   * closing events' `reason`/`note` are emptied (nothing reads them from the log: the
--     dashboard's feed shows `by`/`to` only, reports count events). The two notes the core
--     itself writes (no one typed them) stay;
--   * the department of a referral (event, `requests.referred_department`, the staff audit
--     row's `detail` "department:<name>") and `offer_failed`/`staff_not_reached` reasons are
--     masked as `masked` masks: every digit form as "#" (a phone too: "###########", where
--     `masked` writes "[phone]"), runs of three or more Chinese digits (gaps as a phone's
--     allowed between), Chinese numerals before a building/unit/floor/room word or after one
--     (a room), a lettered building ("b座"). Readers already mask these on the way out
--     (dispatcher/ops/dashboard_data.py, dispatcher/api/requests.py): they show the same.
-- The digit forms below are every character `dispatcher.redact.fold_digits` folds to a digit
-- (tests/unit/test_migration_0415_mirrors_masked.py checks the list). Run again, it changes
-- nothing (a masked text masks to itself). The function lives only in this migration's
-- transaction: created here, dropped at the end.
CREATE OR REPLACE FUNCTION masked_0415(t text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $fn$
SELECT regexp_replace(
    regexp_replace(
        regexp_replace(t, '[0-9'
                   || '\u00b2-\u00b3\u00b9\u00bc-\u00be\u0660-\u0669\u06f0-\u06f9\u07c0-\u07c9\u0966-\u096f\u09e6-\u09ef'
                   || '\u0a66-\u0a6f\u0ae6-\u0aef\u0b66-\u0b6f\u0be6-\u0bef\u0c66-\u0c6f\u0ce6-\u0cef\u0d66-\u0d6f\u0de6-\u0def'
                   || '\u0e50-\u0e59\u0ed0-\u0ed9\u0f20-\u0f29\u1040-\u1049\u1090-\u1099\u1369-\u1371\u17e0-\u17e9\u1810-\u1819'
                   || '\u1946-\u194f\u19d0-\u19da\u1a80-\u1a89\u1a90-\u1a99\u1b50-\u1b59\u1bb0-\u1bb9\u1c40-\u1c49\u1c50-\u1c59'
                   || '\u2070\u2074-\u2079\u2080-\u2089\u2150-\u215f\u2189\u2460-\u249b\u24ea\u24f5-\u24fd'
                   || '\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792\u2f00\u2f06\u2f0b\u2f33'
                   || '\u3192-\u3195\u3220-\u3228\u3251-\u325f\u3280-\u3288\u32b1-\u32cb\u3358-\u3370\u3378-\u3379\u339f-\u33a6'
                   || '\u33a8\u33af\u33e0-\u33fe\ua620-\ua629\ua8d0-\ua8d9\ua900-\ua909\ua9d0-\ua9d9\ua9f0-\ua9f9'
                   || '\uaa50-\uaa59\uabf0-\uabf9\uf96b\uf9b2\uf9d1\uf9d3\uff10-\uff19\U000104a0-\U000104a9'
                   || '\U00010a40-\U00010a43\U00010d30-\U00010d39\U00010e60-\U00010e68\U00011052-\U0001105a\U00011066-\U0001106f\U000110f0-\U000110f9\U00011136-\U0001113f\U000111d0-\U000111d9'
                   || '\U000112f0-\U000112f9\U00011450-\U00011459\U000114d0-\U000114d9\U00011650-\U00011659\U000116c0-\U000116c9\U00011730-\U00011739\U000118e0-\U000118e9\U00011950-\U00011959'
                   || '\U00011c50-\U00011c59\U00011d50-\U00011d59\U00011da0-\U00011da9\U00016a60-\U00016a69\U00016ac0-\U00016ac9\U00016b50-\U00016b59\U0001d7ce-\U0001d7ff\U0001e140-\U0001e149'
                   || '\U0001e2f0-\U0001e2f9\U0001e950-\U0001e959\U0001f100-\U0001f10a\U0001f214\U0001f229-\U0001f22a\U0001f241-\U0001f242\U0001fbf0-\U0001fbf9'
                   || ']', '#', 'g'),
        -- a keycap's or other marks drawn on a digit go with it
        '#[\u0300-\u036f\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f]+', '#', 'g'),
    -- a Chinese digit in a run of three or more (a phone, a room, a door code)
    '[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖](?=[\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8}[-‐‑‒–—―－_.．。·・/／\\,，、()（）]{0,2}[\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8}[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖#][\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8}[-‐‑‒–—―－_.．。·・/／\\,，、()（）]{0,2}[\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8}[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖#])'
    || '|(?<=[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖#][\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8}[-‐‑‒–—―－_.．。·・/／\\,，、()（）]{0,2}[\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8})[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖](?=[\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8}[-‐‑‒–—―－_.．。·・/／\\,，、()（）]{0,2}[\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8}[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖#])'
    || '|(?<=[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖#][\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8}[-‐‑‒–—―－_.．。·・/／\\,，、()（）]{0,2}[\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8}[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖#][\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8}[-‐‑‒–—―－_.．。·・/／\\,，、()（）]{0,2}[\s\u00ad\u200b-\u200f\u2060-\u2064\ufeff]{0,8})[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖]'
    -- a place number: building, unit, floor, room ("十二号楼", "二单元")
    || '|[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖十百](?=[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖十百#]*\s?(?:号楼|號樓|号|號|栋|棟|幢|座|#|＃|单元|單元|楼|樓|层|層|室|房|户|戶|弄))'
    -- a lettered building ("b座")
    || '|[a-zA-Zａ-ｚＡ-Ｚ](?=\s?[栋棟座幢区區])'
    -- a room after a place word ("栋五零", two to four digits)
    || '|(?<=(?:号楼|號樓|号|號|栋|棟|幢|座|#|＃|单元|單元|楼|樓|层|層|室|房|户|戶|弄)\s?[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖#]{0,3})[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖](?=[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖#])'
    || '|(?<=(?:号楼|號樓|号|號|栋|棟|幢|座|#|＃|单元|單元|楼|樓|层|層|室|房|户|戶|弄)\s?[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖#]{0,3}[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖#])[零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖]',
    '#', 'g')
$fn$;

-- Closing events: what was typed goes.
UPDATE event_log SET body = jsonb_set(body, '{reason}', '""')
WHERE type = 'request_cancelled' AND coalesce(body->>'reason', '') <> '';

UPDATE event_log SET body = jsonb_set(body, '{note}', '""')
WHERE type IN ('request_resolved', 'request_referred') AND coalesce(body->>'note', '') <> ''
  AND NOT (type = 'request_resolved' AND body->>'note' IN (
      'every assigned helper reported done',
      'closed automatically at the end of the request''s lifetime'));

-- Typed or echoed text that readers show masked: masked where it is kept.
UPDATE event_log
SET body = jsonb_set(body, '{department}', to_jsonb(masked_0415(body->>'department')))
WHERE type = 'request_referred'
  AND body->>'department' IS DISTINCT FROM masked_0415(body->>'department');

UPDATE event_log
SET body = jsonb_set(body, '{reason}', to_jsonb(masked_0415(body->>'reason')))
WHERE type IN ('offer_failed', 'staff_not_reached')
  AND body->>'reason' IS DISTINCT FROM masked_0415(body->>'reason');

UPDATE requests SET referred_department = masked_0415(referred_department)
WHERE referred_department IS DISTINCT FROM masked_0415(referred_department);

-- A referral's detail is its target ("120", "property"), then ":<department>" when one was
-- named: only the department is typed text. Masking the whole detail turned "120" into "###".
UPDATE staff_actions
SET detail = split_part(detail, ':', 1) || ':'
    || masked_0415(substr(detail, strpos(detail, ':') + 1))
WHERE action = 'refer' AND strpos(detail, ':') > 0
  AND substr(detail, strpos(detail, ':') + 1)
      IS DISTINCT FROM masked_0415(substr(detail, strpos(detail, ':') + 1));

DROP FUNCTION masked_0415(text);
