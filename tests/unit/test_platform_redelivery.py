"""A platform re-sends what it saw fail, and retries on its own schedule:

1. A delivery refused 429 by the group's limit is re-sent unchanged by the platform; the
   re-send must be read (the help request gets in), not refused 409 `replayed`.
2. A requester's "不用了" re-delivered hours later (Feishu retries at 15 s, 5 min, 1 h,
   6 h) must not cancel a request they made since: it gets its first answer again.
3. A claimed delivery is kept until no timestamp it could carry is fresh again, for the
   laxest platform (DingTalk: an hour).

Through the platform route with DingTalk callbacks signed as DingTalk signs them; the
PostgreSQL tables of replay claims, idempotency keys and reply threads are in-memory
fakes here (the same statements' SQL is exercised by tests/integration), the command sink
records what would go to Kafka.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from dispatcher.api import bot_auth
from dispatcher.api import webhook_signature as ws
from dispatcher.api.platforms import dingtalk, feishu, wecom
from dispatcher.api.ratelimit import RateLimiter
from dispatcher.record.edge import bot_calls, intake
from dispatcher.record.edge import group_threads as threads
from schemas.commands import CancelRequest, Command, SubmitRequest
from tests.support import platform_callbacks as pc
from tests.support.dingtalk_app import (
    CommandSink,
    bot_app,
    dingtalk_bot,
    group_message,
    post_callback,
)

BOT, GROUP, COMMUNITY = "dt-redeliver", "cidGroupRedeliver==", "comm-redeliver"


class Clock:
    t = 1_000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Tables:
    """`api_webhook_ids`, `api_idempotency` and the sender's open request, in memory."""

    claims: set[tuple[str, str]] = field(default_factory=set)
    keys: dict[tuple[str, str], bot_calls.KeyState] = field(default_factory=dict)
    open_request: str | None = None
    sent: list[Command] = field(default_factory=list)


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> Tables:
    t = Tables()

    async def claim_webhook_id(db: Any, bot_id: str, webhook_id: str) -> bool:
        new = (bot_id, webhook_id) not in t.claims
        t.claims.add((bot_id, webhook_id))
        return new

    async def release_webhook_id(db: Any, bot_id: str, webhook_id: str) -> None:
        t.claims.discard((bot_id, webhook_id))

    async def claim_key(db: Any, bot_id: str, key: str, fingerprint: str) -> bool:
        if (bot_id, key) in t.keys:
            return False
        t.keys[(bot_id, key)] = bot_calls.KeyState(
            fingerprint, "in_flight", status_code=None, response=None, age_s=0, request_id=None
        )
        return True

    async def key_state(db: Any, bot_id: str, key: str) -> bot_calls.KeyState | None:
        return t.keys.get((bot_id, key))

    async def store_answer(db: Any, bot_id: str, key: str, status: int, body: Any) -> None:
        old = t.keys[(bot_id, key)]
        t.keys[(bot_id, key)] = bot_calls.KeyState(
            old.fingerprint, "done", status, body, age_s=0, request_id=None
        )

    async def give_up_key(db: Any, bot_id: str, key: str) -> None:
        t.keys.pop((bot_id, key), None)

    async def open_requests_of(pool: Any, bot_id: str, group_id: str, sender: str) -> list[str]:
        return [t.open_request] if t.open_request is not None else []

    async def not_found_due(pool: Any, bot_id: str, group_id: str, senders: list[str]) -> bool:
        return False  # the sender never asked here

    async def nothing(*args: Any, **kwargs: Any) -> None: ...

    async def submit(db: Any, **kwargs: Any) -> intake.Submitted:
        return intake.Submitted(claimed=True, earlier=None)

    for name, fake in (
        ("claim_webhook_id", claim_webhook_id),
        ("release_webhook_id", release_webhook_id),
        ("claim_key", claim_key),
        ("key_state", key_state),
        ("store_answer", store_answer),
        ("give_up_key", give_up_key),
        ("purge", nothing),
        ("mark_done", nothing),
    ):
        monkeypatch.setattr(bot_calls, name, fake)
    monkeypatch.setattr(threads, "open_requests_of", open_requests_of)
    monkeypatch.setattr(threads, "not_found_due", not_found_due)
    monkeypatch.setattr(threads, "record", nothing)
    monkeypatch.setattr(intake, "submit", submit)
    return t


def app_for(tables: Tables, clock: Clock, *, group_burst: float = 1e6) -> Any:
    bot = dingtalk_bot(BOT, GROUP, COMMUNITY, group_rate_per_minute=1, group_burst=group_burst)
    return bot_app(bot, CommandSink(tables.sent), limiter=RateLimiter(clock=clock))


def message(text: str, message_id: str) -> pc.Callback:
    return group_message(text, message_id, GROUP)


async def post(app: Any, cb: pc.Callback) -> httpx.Response:
    return await post_callback(app, BOT, cb)


async def test_a_delivery_refused_429_is_read_when_the_platform_resends_it(
    tables: Tables,
) -> None:
    clock = Clock()
    app = app_for(tables, clock, group_burst=1)
    first = await post(app, message("5号楼水管爆了，家里在漏水，谁会修水管？", "m-first"))
    assert first.status_code == 200 and first.json()["is_request"], first.text
    # An ordinary request: an emergency is never refused by the group's limit (review 32).
    fall = message("6号楼谁家有梯子借我用一下，明天还", "m-fall")
    refused = await post(app, fall)
    assert refused.status_code == 429, refused.text
    clock.t += 120  # the group's bucket has refilled; the platform re-sends the same bytes
    again = await post(app, fall)
    assert again.status_code == 200 and again.json()["is_request"], again.text
    opened = [c.body.spec for c in tables.sent if isinstance(c.body, SubmitRequest)]
    assert len(opened) == 2 and opened[1].request_id == again.json()["request_id"]
    assert opened[0].request_id != opened[1].request_id
    # An exact re-send of what was read is still refused.
    assert (await post(app, fall)).status_code == 409


async def test_a_cancel_redelivered_later_does_not_cancel_a_newer_request(
    tables: Tables,
) -> None:
    app = app_for(tables, Clock())
    tables.open_request = "req-a"
    cancel_id = f"m-{uuid.uuid4().hex[:8]}"
    first = await post(app, message("不用了，谢谢", cancel_id))
    assert first.json() == {"is_request": False, "cancelled": "req-a"}
    tables.open_request = "req-b"  # asked again since
    # The platform's retry: the same message id, signed anew.
    again = await post(app, message("不用了，谢谢", cancel_id))
    assert again.status_code == 200
    assert again.json() == {"is_request": False, "cancelled": "req-a"}
    assert again.headers.get("idempotent-replayed") == "true"
    cancels = [c.body.request_id for c in tables.sent if isinstance(c.body, CancelRequest)]
    assert cancels == ["req-a"]


async def test_a_cancel_that_found_nothing_stays_so_when_redelivered(tables: Tables) -> None:
    app = app_for(tables, Clock())
    cancel_id = f"m-{uuid.uuid4().hex[:8]}"
    first = await post(app, message("不用了，已经解决", cancel_id))
    assert first.json()["is_request"] is False and "cancelled" not in first.json()
    tables.open_request = "req-new"
    again = await post(app, message("不用了，已经解决", cancel_id))
    assert again.json() == first.json()
    assert not [c for c in tables.sent if isinstance(c.body, CancelRequest)]


def test_claims_outlive_every_callers_timestamp_window() -> None:
    """A claim purged while its timestamp can still pass lets an exact re-send in again."""
    windows = (ws.TOLERANCE_S, dingtalk.TOLERANCE_S, wecom.TOLERANCE_S, feishu.TOLERANCE_S)
    assert 2 * max(windows) <= bot_auth.REPLAY_CLAIMS_KEPT_S
