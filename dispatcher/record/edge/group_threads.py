"""Which chat groups asked about which request (`api_group_threads`), and the posts to them
(`api_group_posts`: recorded pending before they are sent, so none is lost; each key is
posted once across API instances, whoever holds its lease sends it). A post's text is kept
only while it is unsent: in `body`, or sealed in `sealed_body` when it names a helper; the
send's `mark_sent` empties both. A thread row under `not_found_thread` is no request's: the
claim that a sender was told none of theirs is open (`not_found_due`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from dispatcher.numbers import MAX_EPOCH_MS, checked_int
from dispatcher.record.db import Db
from schemas.places import PlacePath
from schemas.plans import PLAN_SETS
from schemas.sealed import Sealed

# A request the read model has not recorded is the sender's to end while the API holds it
# (`api_intake`) and for at most this long: the longest a request lives (a low one, 72 h)
# and a day for a worker that far behind. Past it, one never recorded was never taken in
# (its submit dead-lettered) and would be over by now anyway; its intake row is never
# purged, and without a bound it stayed "open" (and, its command erased, grave) for good.
UNRECORDED_LAG_S = 24 * 3600
UNRECORDED_S = (
    max(plan.lifetime_s for plans in PLAN_SETS.values() for plan in plans.values())
    + UNRECORDED_LAG_S
)
# "未找到您在本群进行中的求助" is said to a sender at most once in this long per group.
NOT_FOUND_ONCE_S = 12 * 3600
NOT_FOUND = "no-open-request:"


@dataclass(frozen=True)
class Thread:
    request_id: str
    bot_id: str
    group_id: str
    session_webhook: str | None = field(default=None, repr=False)
    session_expires: datetime | None = None
    reply_to: str | None = None  # Feishu: the asking message, for the reply API
    # The requester left a phone (the intake's contact); False: a group bot's sender with
    # none, whom the group's texts never promise a call. None: not known (a co-report, a
    # thread from before migration 0408). A flag only, never the phone; not the thread's
    # identity.
    requester_phone: bool | None = field(default=None, compare=False)
    # The request's place as the intake raised it in this group (`place_ids` of its spec's):
    # what the worker calls the whistle's contacts for, whatever the group is re-pointed to
    # later. None: not known (a co-report, a thread from before migration 0419).
    place: PlacePath | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        """Messages to one group are sent in order, one at a time."""
        return (self.bot_id, self.group_id)


def place_ids(place: PlacePath) -> PlacePath:
    """The ids of `place` down to its building that decide which whistle contacts cover it
    (`WhistleRecipient.covers`): never its unit, floor, household or names."""
    return PlacePath(
        community_id=place.community_id,
        grid_id=place.grid_id,
        compound_id=place.compound_id,
        building_id=place.building_id,
    )


async def record(
    pool: Db,
    thread: Thread,
    sender_id: str,
) -> None:
    """A re-recording (a platform's re-send, a co-report in the raising group) keeps the
    place first recorded: the request's, fixed at intake."""
    place = None if thread.place is None else place_ids(thread.place).model_dump_json()
    await pool.execute(
        "INSERT INTO api_group_threads (request_id, bot_id, group_id, sender_id, "
        "session_webhook, session_expires, reply_to, requester_phone, request_place) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) "
        "ON CONFLICT (request_id, bot_id, group_id) DO UPDATE SET "
        "session_webhook = EXCLUDED.session_webhook, session_expires = EXCLUDED.session_expires",
        thread.request_id,
        thread.bot_id,
        thread.group_id,
        sender_id,
        thread.session_webhook,
        thread.session_expires,
        thread.reply_to,
        thread.requester_phone,
        place,
    )


async def for_requests(pool: Db, request_ids: list[str]) -> dict[str, list[Thread]]:
    rows = await pool.fetch(
        "SELECT request_id, bot_id, group_id, session_webhook, session_expires, reply_to, "
        "requester_phone, request_place::text AS request_place FROM api_group_threads "
        "WHERE request_id = ANY($1::text[])",
        request_ids,
    )
    out: dict[str, list[Thread]] = {}
    for r in rows:
        out.setdefault(r["request_id"], []).append(_thread(r))
    return out


async def open_requests_of(pool: Db, bot_id: str, group_id: str, sender_id: str) -> list[str]:
    """Every open request the sender asked in this group, newest first (for "不用了，已经
    解决": a re-post the intake did not merge is a second request of the same need). Open
    as the read model has it (`requests.closed_at`), not by the age of the thread: a
    request lives up to 72 h, and its thread's `closed` flag misses a closing event the
    group loop skipped as old news (after an outage). Not recorded yet: open while the API
    holds it as acknowledged (`api_intake`) for up to UNRECORDED_S after it was taken in
    (an hour told a requester whose request a lagging worker had not recorded "none of
    yours is open"; no bound kept a dead-lettered submit open for good)."""
    rows = await pool.fetch(
        "SELECT t.request_id FROM api_group_threads t "
        "LEFT JOIN requests r ON r.request_id = t.request_id "
        "LEFT JOIN api_intake i ON i.request_id = t.request_id "
        "WHERE t.bot_id = $1 AND t.group_id = $2 AND t.sender_id = $3 AND NOT t.closed "
        "AND CASE WHEN r.request_id IS NULL "
        "THEN i.opened_at > now() - make_interval(secs => $4) "
        "ELSE r.closed_at IS NULL END "
        "ORDER BY t.created_at DESC, t.request_id",
        bot_id,
        group_id,
        sender_id,
        float(UNRECORDED_S),
    )
    return [str(r["request_id"]) for r in rows]


async def categories_of(pool: Db, request_ids: list[str]) -> dict[str, str]:
    """Each request's category: by the read model, else by the command the API holds
    (`api_intake`, not recorded yet); one neither knows is left out (kept by nothing)."""
    rows = await pool.fetch(
        "SELECT x.id, COALESCE(r.category, i.command #>> '{body,spec,category}') AS category "
        "FROM unnest($1::text[]) AS x(id) "
        "LEFT JOIN requests r ON r.request_id = x.id "
        "LEFT JOIN api_intake i ON i.request_id = x.id",
        request_ids,
    )
    return {str(r["id"]): str(r["category"]) for r in rows if r["category"] is not None}


async def grave_among(pool: Db, request_ids: list[str]) -> set[str]:
    """Which of these requests are critical or life-threatening: by the read model (its
    urgency, or the requester told to call the emergency number), else by the command the
    API holds (`api_intake`); one whose urgency nobody can tell any more counts as grave.
    A closing reply ends such a request only when it is the sender's one open request, or
    when told "全部取消"."""
    rows = await pool.fetch(
        "SELECT x.id FROM unnest($1::text[]) AS x(id) "
        "LEFT JOIN requests r ON r.request_id = x.id "
        "LEFT JOIN api_intake i ON i.request_id = x.id "
        "WHERE CASE WHEN r.request_id IS NOT NULL "
        "THEN r.urgency = 'critical' OR r.emergency_advised IS NOT NULL "
        "ELSE i.command IS NULL OR i.command #>> '{body,spec,urgency}' = 'critical' "
        "OR i.command #>> '{body,spec,life_threatening}' = 'true' END",
        request_ids,
    )
    return {str(r["id"]) for r in rows}


def not_found_thread(sender_id: str) -> str:
    """The `request_id` a "no open request of yours" post is recorded under: by sender, so
    `not_found_due` finds the last one told to them (a digest: the post's request id goes
    with it to the robot, the platform's id of the sender need not)."""
    return NOT_FOUND + hashlib.sha256(sender_id.encode()).hexdigest()[:24]


async def not_found_due(pool: Db, bot_id: str, group_id: str, senders: list[str]) -> bool:
    """Should "no open request of yours" answer `senders[0]`'s closing reply? Only to one
    who asked in this group (a thread of theirs kept, `senders` their ids as raiser and as
    co-reporter), and once in NOT_FOUND_ONCE_S: "不用了，谢谢" is everyday chat too. True
    claims the telling: the claim is a closed thread row under `not_found_thread` (the
    post's own id), inserted or, NOT_FOUND_ONCE_S after the last, renewed by one statement,
    so of two replies read at once only one is told (a check of the posts alone let both
    through: neither post was recorded yet). `not_found_undo` gives it back."""
    due = await pool.fetchval(
        "INSERT INTO api_group_threads (request_id, bot_id, group_id, sender_id, closed) "
        "SELECT $4, $1, $2, ($3::text[])[1], true WHERE EXISTS (SELECT 1 FROM api_group_threads "
        "WHERE bot_id = $1 AND group_id = $2 AND sender_id = ANY($3::text[]) "
        "AND request_id <> $4) AND NOT EXISTS (SELECT 1 FROM api_group_posts "
        "WHERE bot_id = $1 AND group_id = $2 AND request_id = $4 "
        "AND posted_at > now() - make_interval(secs => $5)) "
        "ON CONFLICT (request_id, bot_id, group_id) DO UPDATE SET created_at = now() "
        "WHERE api_group_threads.created_at <= now() - make_interval(secs => $5) "
        "RETURNING true",
        bot_id,
        group_id,
        senders,
        not_found_thread(senders[0]),
        float(NOT_FOUND_ONCE_S),
    )
    return bool(due)


async def not_found_undo(pool: Db, bot_id: str, group_id: str, sender_id: str) -> None:
    """The telling claimed by `not_found_due` was not recorded (PostgreSQL failed on the
    post): the platform's re-send of the reply may claim it again."""
    await pool.execute(
        "DELETE FROM api_group_threads WHERE request_id = $1 AND bot_id = $2 AND group_id = $3",
        not_found_thread(sender_id),
        bot_id,
        group_id,
    )


async def close(pool: Db, request_id: str) -> None:
    await pool.execute(
        "UPDATE api_group_threads SET closed = true WHERE request_id = $1", request_id
    )


@dataclass(frozen=True)
class Pending:
    """A post not sent yet, leased to whoever sends it now (`lease`). `text` is what is
    sent (in memory); recorded in `body`, or, when `sealed` holds it (it names a helper),
    only as that box. Read back by the sweeper, a sealed post's `text` is "" until the
    loop opens the box."""

    key: str
    thread: Thread
    text: str
    lease: str
    sealed: Sealed | None = field(default=None, repr=False)


async def add_pending(pool: Db, post: Pending, lease_s: float) -> bool:
    """Record a post before it is sent, leased to its maker for `lease_s`. False when the
    key was recorded before (a replayed event, a second API instance): not sent again."""
    t = post.thread
    added = await pool.fetchval(
        "INSERT INTO api_group_posts (post_key, request_id, bot_id, group_id, session_webhook, "
        "session_expires, reply_to, body, lease, lease_until, sealed_body) VALUES ($1, $2, $3, "
        "$4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10), $11::jsonb) "
        "ON CONFLICT DO NOTHING RETURNING true",
        post.key,
        t.request_id,
        t.bot_id,
        t.group_id,
        t.session_webhook,
        t.session_expires,
        t.reply_to,
        None if post.sealed is not None else post.text,
        post.lease,
        lease_s,
        None if post.sealed is None else post.sealed.model_dump_json(),
    )
    return bool(added)


async def take(pool: Db, key: str, lease: str, lease_s: float) -> bool:
    """Just before sending: still unsent, and the lease is ours (or lapsed and nobody else's
    now). Only one sender at a time gets True for a key."""
    taken = await pool.fetchval(
        "UPDATE api_group_posts SET lease = $2, lease_until = now() + make_interval(secs => $3), "
        "attempts = attempts + 1 WHERE post_key = $1 AND sent_at IS NULL "
        "AND (lease = $2 OR lease_until <= now()) RETURNING true",
        key,
        lease,
        lease_s,
    )
    return bool(taken)


async def mark_sent(pool: Db, key: str, lease: str) -> None:
    """Sent: its text is no longer needed (an opted-in helper's name is not kept)."""
    await pool.execute(
        "UPDATE api_group_posts SET sent_at = now(), body = NULL, sealed_body = NULL "
        "WHERE post_key = $1 AND lease = $2",
        key,
        lease,
    )


async def retry_later(pool: Db, key: str, lease: str, base_s: float, max_s: float) -> None:
    """A send that failed: tried again after a backoff doubling with each attempt."""
    await pool.execute(
        "UPDATE api_group_posts SET lease_until = now() + make_interval(secs => "
        "least($3 * power(2, greatest(attempts - 1, 0)), $4)) "
        "WHERE post_key = $1 AND lease = $2 AND sent_at IS NULL",
        key,
        lease,
        base_s,
        max_s,
    )


async def take_overdue(
    pool: Db, lease: str, lease_s: float, max_age_s: float, limit: int
) -> list[Pending]:
    """The sweeper's share: unsent posts whose lease lapsed (a failed send's backoff, an API
    stopped mid-send), still news; oldest first. SKIP LOCKED: two sweepers never share one."""
    rows = await pool.fetch(
        "WITH due AS (SELECT post_key FROM api_group_posts WHERE sent_at IS NULL "
        "AND lease_until <= now() AND posted_at > now() - make_interval(secs => $3) "
        "ORDER BY posted_at LIMIT $4 FOR UPDATE SKIP LOCKED) "
        "UPDATE api_group_posts p SET lease = $1, lease_until = now() + make_interval(secs => $2) "
        "FROM due WHERE p.post_key = due.post_key RETURNING p.*",
        lease,
        lease_s,
        max_age_s,
        limit,
    )
    rows = sorted(rows, key=lambda r: r["posted_at"])
    return [
        Pending(
            r["post_key"],
            _thread(r),
            r["body"] or "",
            lease,
            None if r["sealed_body"] is None else Sealed.model_validate_json(r["sealed_body"]),
        )
        for r in rows
    ]


def _thread(r: Mapping[str, Any]) -> Thread:
    return Thread(
        r["request_id"],
        r["bot_id"],
        r["group_id"],
        r["session_webhook"],
        r["session_expires"],
        r["reply_to"],
        r.get("requester_phone"),
        _place(r.get("request_place")),
    )


def _place(stored: str | None) -> PlacePath | None:
    """A thread's recorded place; one that does not read as a place is not known (the loop
    reads the group's live place then), never a failure of the loop."""
    if stored is None:
        return None
    try:
        return PlacePath.model_validate_json(stored)
    except ValidationError:
        return None


async def forget(pool: Db, thread: Thread) -> None:
    """A report merged into an earlier request: its own request id never exists, so the
    thread recorded for it before the merge was known is dropped."""
    await pool.execute(
        "DELETE FROM api_group_threads WHERE request_id = $1 AND bot_id = $2 AND group_id = $3",
        thread.request_id,
        thread.bot_id,
        thread.group_id,
    )


def expiry_from_ms(ms: int | None) -> datetime | None:
    """The session webhook's expiry; the adapter checked the range (`epoch_ms`), checked
    again here because a time no clock shows would raise from `fromtimestamp`."""
    if not ms:
        return None
    return datetime.fromtimestamp(checked_int(ms, "expiry", lo=0, hi=MAX_EPOCH_MS) / 1000, UTC)


POSTS_KEPT = timedelta(days=2)
THREADS_KEPT = timedelta(days=7)


async def purge(pool: Db, now: datetime) -> tuple[int, int]:
    """Old threads and post claims are no longer needed (events older than an hour are not
    posted, and a closed request's group has heard its end): (posts, threads) deleted. Run
    by the group loop and by the retention purge, so the rows go on an API without a
    platform bot (any more) too."""
    posts = await pool.fetchval(
        "WITH d AS (DELETE FROM api_group_posts WHERE posted_at < $1 RETURNING 1) "
        "SELECT count(*) FROM d",
        now - POSTS_KEPT,
    )
    threads = await pool.fetchval(
        "WITH d AS (DELETE FROM api_group_threads WHERE created_at < $1 RETURNING 1) "
        "SELECT count(*) FROM d",
        now - THREADS_KEPT,
    )
    return int(posts), int(threads)
