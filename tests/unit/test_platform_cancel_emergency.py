"""A requester's "不用了…" cancels their open request only when the message asks for no
help itself: "不用了，我妈突然晕倒了，没有呼吸了，快来人！" from someone whose errand is
still open is a new emergency (120 first, neighbours dispatched), never a cancel that
swallows it. Plain cancels ("不用了，谢谢", "已解决") still cancel.

Through the platform route with a DingTalk callback signed as DingTalk's published sample
signs it; PostgreSQL's edge statements are fakes here (tests/integration runs the same
path on the real stack) and the command sink records what would go to Kafka.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.platforms import routes
from dispatcher.classify import classify
from dispatcher.groupchat import texts
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace, PlatformConfig
from dispatcher.record.edge import bot_calls, intake
from dispatcher.record.edge import group_threads as threads
from dispatcher.settings import Settings
from schemas.commands import CancelRequest, Command, SubmitRequest
from tests.support import platform_callbacks as pc

BOT, GROUP, COMMUNITY = "dt-cancel", "cidGroupCancel==", "comm-cancel"
OPEN_ERRAND = "req-open-errand"  # the sender asked for medicine five minutes ago
EMERGENCIES = (
    "不用了，我妈突然晕倒了，没有呼吸了，快来人！",
    "已解决了，但是我爸突然倒地不省人事了",
    "不需要了，我爸胸口剧痛，喘不上气",
    "取消求助，孩子掉进水里了！",
)
PLAIN_CANCELS = ("不用了，谢谢", "已解决", "不用了，已经解决", "已解决，谢谢大家")


class Sink:
    def __init__(self) -> None:
        self.sent: list[Command] = []

    async def send(self, topic: str, key: str, value: bytes) -> None:
        self.sent.append(Command.model_validate_json(value))


class Replies:
    def __init__(self) -> None:
        self.said: list[str] = []

    def expect(self, thread: Any) -> None: ...

    def release(self, thread: Any) -> None: ...

    async def immediate(self, thread: Any, text: str, message_id: str) -> None:
        self.said.append(text)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def app(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> Any:
    async def open_request_of(pool: Any, bot_id: str, group_id: str, sender_id: str) -> str:
        return OPEN_ERRAND

    async def nothing(*args: Any, **kwargs: Any) -> None: ...

    async def claimed(*args: Any, **kwargs: Any) -> bool:
        return True  # each message's cancel is new here (tests/unit/test_platform_redelivery.py)

    async def submit(db: Any, **kwargs: Any) -> intake.Submitted:
        return intake.Submitted(claimed=True, earlier=None)

    monkeypatch.setattr(threads, "open_request_of", open_request_of)
    monkeypatch.setattr(threads, "record", nothing)
    monkeypatch.setattr(routes, "claim_webhook_id", nothing)  # the replay claim
    monkeypatch.setattr(intake, "submit", submit)
    monkeypatch.setattr(bot_calls, "claim_key", claimed)  # the cancel's idempotency key
    monkeypatch.setattr(bot_calls, "store_answer", nothing)
    settings = Settings()
    bot = BotConfig(
        bot_id=BOT,
        platform=PlatformConfig(kind="dingtalk", app_secret=SecretStr(pc.DINGTALK_SECRET)),
        communities=frozenset({COMMUNITY}),
        groups={GROUP: GroupPlace(community_id=COMMUNITY, grid_id="g1", compound_id="c1")},
        rate_per_minute=1e6,
        burst=1e6,
        group_rate_per_minute=1e6,
        group_burst=1e6,
    )
    deps = ApiDeps(settings=settings, sink=sink, bots=BotRegistry.from_list([bot]))
    deps._pool = object()  # only the faked statements below use it
    application = create_app(settings, deps)
    application.state.group_replies = Replies()
    return application


async def say(app: Any, text: str) -> httpx.Response:
    body = pc.dingtalk_body(text, f"m-{uuid.uuid4().hex[:12]}", conversation=GROUP)
    cb = pc.dingtalk_callback(body)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post(f"/v1/platforms/dingtalk/{BOT}", headers=cb.headers, content=body)


@pytest.mark.parametrize(("text", "plain"), zip(EMERGENCIES, PLAIN_CANCELS, strict=True))
async def test_an_emergency_beside_a_cancel_word_is_dispatched_a_plain_cancel_cancels(
    app: Any, sink: Sink, text: str, plain: str
) -> None:
    found = classify(text)
    assert found.advise_emergency_call and texts.is_cancel_reply(text)  # the trap: both
    r = await say(app, text)
    assert r.status_code == 200, r.text
    out = r.json()
    assert "cancelled" not in out
    assert out["is_request"] and out["urgency"] == "critical" and out["advise_emergency_call"]
    assert out["emergency_number"] == found.emergency_number
    bodies = [c.body for c in sink.sent]
    assert not any(isinstance(b, CancelRequest) for b in bodies), bodies
    assert [type(b) for b in bodies] == [SubmitRequest]
    said = app.state.group_replies.said
    assert len(said) == 1 and said[0].startswith(f"请立即拨打{found.emergency_number}")

    # The same sender's plain "不用了，谢谢" still cancels (their latest open request).
    r = await say(app, plain)
    assert r.status_code == 200, r.text
    assert json.loads(r.text) == {"is_request": False, "cancelled": OPEN_ERRAND}
    cancel = sink.sent[-1].body
    assert len(sink.sent) == 2 and isinstance(cancel, CancelRequest)
    assert cancel.request_id == OPEN_ERRAND


@pytest.mark.parametrize("text", EMERGENCIES)
def test_the_rule_reads_the_classifiers_answer(text: str) -> None:
    assert not texts.cancels(text, classify(text))
    for plain in PLAIN_CANCELS:
        assert texts.cancels(plain, classify(plain))
