"""rev30 groupchat findings, at unit level (in-memory transport and the loop's table fake;
the durable pending posts and their sweeper run on the real PostgreSQL in
tests/integration/test_group_posts_pending_rev30.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.clock import utcnow
from dispatcher.groupchat import sender as sender_module
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace, PlatformConfig
from dispatcher.groupchat.feishu_reply import FeishuReplies
from dispatcher.groupchat.loop import GroupReplies
from dispatcher.groupchat.sender import GroupSender
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.push.model import Delivered, PermanentFailure, RetryLater
from dispatcher.record.edge.group_threads import Thread
from schemas.events import Event, ReferredToEmergency
from schemas.vocab import ReferralTarget, Skill, Urgency
from tests.unit.conftest import World
from tests.unit.test_groupchat_feishu_reply import CONFIG
from tests.unit.test_groupchat_loop import THREAD, Sender, Tables, replies, settle

GROUPS = {"g1": GroupPlace(community_id="c")}


def token_service(first: httpx.Response) -> httpx.MockTransport:
    """The token endpoint answers `first`, then issues a token; replies succeed."""
    calls = {"token": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tenant_access_token/internal"):
            calls["token"] += 1
            if calls["token"] == 1:
                return first
            return httpx.Response(200, json={"code": 0, "tenant_access_token": "t", "expire": 7200})
        return httpx.Response(200, json={"code": 0})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(503, text="busy"),
        httpx.Response(429, headers={"retry-after": "1"}),
        httpx.Response(200, json={"code": 99991400, "msg": "rate limited"}),
    ],
)
async def test_a_busy_feishu_token_service_is_tried_again(first: httpx.Response) -> None:
    async with httpx.AsyncClient(transport=token_service(first)) as client:
        feishu = FeishuReplies(client)
        assert isinstance(await feishu.reply(CONFIG, "om_1", "请立即拨打120", "k"), RetryLater)
        assert isinstance(await feishu.reply(CONFIG, "om_1", "请立即拨打120", "k"), Delivered)


async def test_a_refused_feishu_app_secret_is_final() -> None:
    refused = httpx.Response(200, json={"code": 10014, "msg": "app secret invalid"})
    async with httpx.AsyncClient(transport=token_service(refused)) as client:
        result = await FeishuReplies(client).reply(CONFIG, "om_1", "hi", "k")
    assert isinstance(result, PermanentFailure)


async def test_a_refused_session_webhook_falls_back_to_the_groups_robot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender_module, "BACKOFF_S", (0.0, 0.0, 0.0))
    reached: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if "sendBySession" in str(request.url):
            reached.append("session")
            return httpx.Response(200, json={"errcode": 300001, "errmsg": "session invalid"})
        reached.append("robot")
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    robot = EndpointConfig(
        name="g1-robot",
        kind="dingtalk",
        url="https://oapi.dingtalk.com/robot/send",
        token=SecretStr("tok"),
    )
    bot = BotConfig(
        bot_id="dt",
        platform=PlatformConfig(kind="dingtalk", app_secret=SecretStr("s")),
        robots={"g1": robot},
        communities=frozenset({"c"}),
        groups=GROUPS,
    )
    thread = Thread(
        "r1",
        "dt",
        "g1",
        session_webhook="https://oapi.dingtalk.com/robot/sendBySession?session=abc",
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        sender = GroupSender(lambda: BotRegistry.from_list([bot]), client)
        assert await sender.send(thread, "一位邻居已接单，正在赶来。", "grp_y")
    assert reached == ["session", "robot"]


def _ours(events: list[Event]) -> list[Event]:
    now = utcnow()
    return [e.model_copy(update={"request_id": "r1", "occurred_at": now}) for e in events]


async def test_a_declines_replacement_offer_is_not_announced(world: World) -> None:
    for i in range(8):
        world.helper(f"h{i}", skills=[Skill.DRIVING])
    g, sender, _ = replies()
    await g.handle(_ours(world.submit(urgency=Urgency.NORMAL, skills=(Skill.DRIVING,)).events))
    await settle(g)
    for _ in range(3):
        open_ = [o.helper_id for o in world.request().offers if o.status.value == "open"]
        await g.handle(_ours(world.decline(open_[0]).events))
        await settle(g)
    assert sender.sent == ["已通知3位附近邻居，请稍候。"]


async def test_one_commands_wave_across_silent_rings_is_one_message(world: World) -> None:
    """The first wave climbs an empty ring at once (RingEscalated, which the group does not
    hear of): still one "已通知N位"."""
    world.helper("nurse-far", building="1", compound="other", grid="g7", skills=[Skill.NURSE])
    world.helper("driver-compound", building="9", skills=[Skill.DRIVING])
    world.helper("driver-grid", building="1", compound="next", skills=[Skill.DRIVING])
    decision = world.submit(urgency=Urgency.URGENT, skills=(Skill.DRIVING, Skill.NURSE))
    assert "ring_escalated" in [e.body.type for e in decision.events]
    g, sender, _ = replies()
    await g.handle(_ours(decision.events))
    await settle(g)
    assert sender.sent == ["已通知2位附近邻居，请稍候。"]


async def test_a_second_report_merged_from_the_same_group_gets_its_answer() -> None:
    g, sender, _ = replies()
    await g.immediate(THREAD, "请立即拨打120急救电话！同时已收到求助", "msg-x")
    await g.immediate(THREAD, "请立即拨打120急救电话！已收到，邻居们已在处理同一求助", "msg-y")
    await g.immediate(THREAD, "请立即拨打120急救电话！已收到，邻居们已在处理同一求助", "msg-y")
    await settle(g)
    assert sender.sent == [
        "请立即拨打120急救电话！同时已收到求助",
        "请立即拨打120急救电话！已收到，邻居们已在处理同一求助",
    ]  # the platform's re-send of msg-y is not answered twice


class Stuck:
    async def send(self, thread: Thread, text: str, key: str) -> bool:
        await asyncio.sleep(3600)  # a slow robot, then the API stops
        return True


async def test_a_post_is_recorded_pending_before_handle_returns() -> None:
    """handle() returning lets the consumer commit: by then the post is in the table, and a
    send cut short by close() leaves it pending (for the sweeper), not claimed-and-lost."""
    tables = Tables()

    async def pool() -> Tables:
        return tables

    g = GroupReplies(Stuck(), pool)  # type: ignore[arg-type]
    referral = Event(
        event_id="ev-ref",
        community_id="c",
        request_id="r1",
        occurred_at=datetime.now(UTC),
        caused_by="cmd-timer",
        body=ReferredToEmergency(to=ReferralTarget.AMBULANCE, step=4),
    )
    await g.handle([referral])
    assert [k for k, p in tables.posts.items() if not p["sent"]] == ["ev-ref:bot:g1"]
    await asyncio.sleep(0.05)
    await g.close()
    assert tables.posts["ev-ref:bot:g1"]["sent"] is False
    again = Sender()
    g2 = GroupReplies(again, pool)  # type: ignore[arg-type]
    await g2.handle([referral])  # the replay finds it recorded: the sweeper's, not lost
    await settle(g2)
    assert again.sent == []
