"""What the asking group is shown of a name, and what it hears after a referral (session 39).

1. An opted-in helper's name (and a team's) went raw into the group's text
   (`f"一位邻居（{group_name[:32]}）"`), on to Feishu's robot, Feishu's reply API and
   DingTalk's session webhook: `<at user_id="all"></at>` became @everyone, a newline a
   forged second line from the official bot, U+202E turned the line around, a phone in a
   name went into the group ("no phone goes into a group's text"). Now `texts.shown_name`
   makes it one line of plain text (no controls or format characters, markup characters
   full-width, phones [phone], at most 32); Feishu's text (robot and reply API) turns any
   "<" of our text full-width, keeping the sender's own @-tags; the join form and the
   admin API refuse a name with a control or format character (422 naming the field).
2. A helper kept on a request referred to 120/110/119 who pressed 去不了了: the group heard
   "一位邻居临时无法前来，正在联系其他邻居。" - nobody is contacted (the request stays
   referred). Now it hears the withdrawal and where the request went.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from dispatcher.api.admin import HelperIn
from dispatcher.groupchat import texts
from dispatcher.groupchat.feishu_reply import FeishuReplies
from dispatcher.push.channels.feishu import FeishuChannel
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.push.model import Delivery, Mention, PushKind, PushMessage
from schemas.commands import MarkOnMyWay, ReferRequest, WithdrawHelper
from schemas.events import Event, HelperAssigned, HelperWithdrawn
from schemas.places import PlacePath
from schemas.records import RequestStatus
from schemas.vocab import Category, ReferralTarget, Skill
from tests.support.group_posts import heard
from tests.unit.conftest import World
from tests.unit.test_group_texts_truth_s38 import Pool
from tests.unit.test_group_truth_s39 import DUTY, _event
from tests.unit.test_groupchat_feishu_reply import CONFIG, FakeFeishu
from tests.unit.test_unstorable_text_refusals import (  # noqa: F401 (fixtures)
    DISTRICT,
    FORM,
    FakePool,
    bearer,
    client,
    join_path,
    pool,
    settings,
    sink,
)

# ---------------------------------------------------------------- 1. names in the group

HOSTILE = [
    '<at user_id="all"></at>',  # Feishu text: @ everyone in the group
    "王\n【社区通知】请扫码缴费",  # a forged second line from the bot
    "王\u202e",  # a bidi override turns the rest of the line around
    "王师傅13800138000",  # a phone
    "王师傅①③⑧⓪⓪①③⑧⓪⓪⓪",  # a phone in other digit forms
    "王\u2028【通知】",  # a line separator
    "[点此缴费](https://evil.example)",  # a link in Feishu's text
]


def _assigned(name: str | None = None, team: str | None = None, members: int = 1) -> Event:
    body = HelperAssigned(
        offer_id="o1",
        helper_id="h1",
        slot=0,
        skills=(),
        remote=False,
        place=PlacePath(community_id="c"),
        group_name=name,
        team_id=team,
        members=members,
    )
    return _event(body)


def _feishu_text(text: str, mentions: tuple[Mention, ...] = ()) -> str:
    endpoint = EndpointConfig.model_validate(
        {"name": "fs", "kind": "feishu", "url": "https://open.feishu.cn/hook", "token": "T"}
    )
    channel = FeishuChannel(endpoint, httpx.AsyncClient())
    delivery = Delivery(
        delivery_id="d1",
        endpoint="fs",
        kind=PushKind.GROUP_UPDATE,
        message=PushMessage(title="邻里互助", text=text),
        data={},
        mentions=mentions,
    )
    return str(channel.payload(delivery)["content"]["text"])


def _plain(sent: str) -> None:
    assert "<" not in sent and ">" not in sent and "](" not in sent, sent
    assert "\n" not in sent and "\u2028" not in sent and "\u202e" not in sent, sent
    assert "13800138000" not in sent and "①③⑧" not in sent, sent


@pytest.mark.parametrize("name", HOSTILE)
def test_a_helpers_name_reaches_the_group_as_one_line_of_plain_text(name: str) -> None:
    text = texts.update_for(_assigned(name))
    assert text is not None and text.startswith("一位邻居（"), text
    assert text.endswith("已接单，正在赶来。"), text
    _plain(text)
    _plain(_feishu_text(text))


@pytest.mark.parametrize("team", HOSTILE)
def test_a_teams_name_too(team: str) -> None:
    text = texts.update_for(_assigned(team=team, members=3))
    assert text is not None and text.endswith("的3位邻居已接单，正在赶来。"), text
    _plain(text)


def test_an_ordinary_name_is_shown_as_it_was() -> None:
    assert texts.update_for(_assigned("王师傅")) == "一位邻居（王师傅）已接单，正在赶来。"
    assert texts.shown_name("李 阿姨\t(3号楼)") == "李 阿姨 （3号楼）"
    assert texts.shown_name("王师傅13800138000") == "王师傅[phone]"
    assert len(texts.shown_name("王" * 64)) == texts.NAME_MAX
    # Nothing left to show: no name at all.
    assert texts.update_for(_assigned("\u202e\u200b")) == "一位邻居已接单，正在赶来。"


def test_feishus_robot_shows_a_less_than_sign_and_keeps_its_own_mentions() -> None:
    sent = _feishu_text('注意 <at user_id="all"></at>', (Mention(open_id="ou_1"),))
    assert sent == '<at user_id="ou_1"></at> 注意 ＜at user_id="all">＜/at>'


async def test_feishus_reply_api_shows_a_less_than_sign() -> None:
    fake = FakeFeishu([0])
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as c:
        await FeishuReplies(c).reply(CONFIG, "om_1", '<at user_id="all"></at>好', "k1")
    [(_, body)] = fake.replies
    assert json.loads(str(body["content"])) == {"text": '＜at user_id="all">＜/at>好'}


@pytest.mark.parametrize("name", ["王\n【社区通知】", "王\u202e", "王\t师傅", "王\u200b"])
async def test_the_join_form_refuses_a_name_with_a_control_character(
    client: httpx.AsyncClient,  # noqa: F811
    settings: Any,  # noqa: F811
    pool: FakePool,  # noqa: F811
    name: str,
) -> None:
    r = await client.post(join_path(settings), data={**FORM, "name": name})
    assert r.status_code == 422, r.text
    assert "姓名含有换行或控制字符" in r.text
    assert pool.stored == []


@pytest.mark.parametrize("name", ["王\n【社区通知】", "王\u202e", "王\u200b师傅"])
async def test_the_admin_api_refuses_a_name_with_a_control_character(
    client: httpx.AsyncClient,  # noqa: F811
    name: str,
) -> None:
    body = {"helper_id": "h1", "name": name, "place": {"community_id": "cfg-a"}}
    r = await client.put("/v1/admin/helpers/h1", json=body, headers=bearer(DISTRICT))
    assert r.status_code == 422, r.text
    assert "name" in r.text and "control or format character" in r.text, r.text
    with pytest.raises(ValidationError, match="control or format character"):
        HelperIn.model_validate({**body, "name": "王", "teams": ["一队\n通知"]})
    assert HelperIn.model_validate({**body, "name": "王 师傅"}).name == "王 师傅"


# ---------------------------------------------------------------- 2. after a referral

EMERGENCY = [ReferralTarget.AMBULANCE, ReferralTarget.POLICE, ReferralTarget.FIRE]
HANDED = {
    ReferralTarget.AMBULANCE: "120急救",
    ReferralTarget.POLICE: "110",
    ReferralTarget.FIRE: "119消防",
}


class ReadModel(Pool):
    """The loop's statements, with the read model's request row as the world has it."""

    def __init__(self, world: World) -> None:
        super().__init__(claimed=False)
        self.world = world

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any] | None:
        if "FROM event_log" in query:  # a pause for quiet hours (session 40): none here
            assert "request_paused" in query, query
            return None
        assert "FROM requests" in query
        r = self.world.request()
        to = r.referred_to.value if r.referred_to is not None else None
        return {"referred_to": to, "closed_at": r.closed_at}


async def _heard(world: World, *batches: list[Event]) -> list[str]:
    return await heard(ReadModel(world), DUTY, lambda: world.now, *batches)


def _kept(world: World, to: ReferralTarget) -> tuple[list[Event], list[Event]]:
    """A fall, two needed: a on the way, b accepted; staff refer it (both kept); b cannot
    come after all. The referral's decision and the withdrawal's (the core's)."""
    for h in ("a", "b"):
        world.helper(h, skills=(Skill.DRIVING,))
    world.submit(category=Category.FALL, helpers_needed=2, skills=(Skill.DRIVING,))
    world.accept("a")
    world.accept("b")
    world.run(MarkOnMyWay(request_id="req-1", helper_id="a"))
    referral = list(world.run(ReferRequest(request_id="req-1", to=to)).events)
    world.later(120)
    withdrawal = list(world.run(WithdrawHelper(request_id="req-1", helper_id="b")).events)
    assert [e.body.type for e in withdrawal] == ["helper_withdrawn"]  # nobody else asked
    return referral, withdrawal


@pytest.mark.parametrize("to", EMERGENCY)
async def test_a_kept_helpers_withdrawal_after_a_referral_says_where_the_request_went(
    world: World, to: ReferralTarget
) -> None:
    referral, withdrawal = _kept(world, to)
    # The referral read before (an earlier batch), or only in the read model (the API
    # restarted since), or in the same batch: the group hears the same.
    for batches in ([referral, withdrawal], [withdrawal], [referral + withdrawal]):
        sent = await _heard(world, *batches)
        said = sent[-1]
        assert said.startswith("一位邻居临时无法前来。求助已转交" + HANDED[to]), said
        assert "联系其他邻居" not in said


async def test_a_withdrawal_on_a_live_request_still_says_others_are_asked(world: World) -> None:
    for h in ("a", "b"):
        world.helper(h, skills=(Skill.DRIVING,))
    world.submit(category=Category.FALL, helpers_needed=1, skills=(Skill.DRIVING,))
    world.accept("a")
    decision = world.run(WithdrawHelper(request_id="req-1", helper_id="a"))
    assert world.request().status is RequestStatus.OPEN  # the slot reopened
    assert "一位邻居临时无法前来，正在联系其他邻居。" in await _heard(world, list(decision.events))


async def test_a_withdrawal_replayed_from_before_a_later_referral_is_not_told_as_after_it(
    world: World,
) -> None:
    """The read model shows the request referred; the withdrawal came before that."""
    referral, _ = _kept(world, ReferralTarget.AMBULANCE)
    earlier = _event(
        HelperWithdrawn(offer_id="o9", helper_id="x", slot=0, no_show=False), "e-old"
    ).model_copy(update={"occurred_at": referral[0].occurred_at - timedelta(minutes=1)})
    assert "一位邻居临时无法前来，正在联系其他邻居。" in await _heard(world, [earlier])


def test_the_text_follows_where_the_request_went() -> None:
    gone = _event(HelperWithdrawn(offer_id="o1", helper_id="h1", slot=0, no_show=False))
    assert texts.update_for(gone) == "一位邻居临时无法前来，正在联系其他邻居。"
    assert texts.update_for(gone, referred=ReferralTarget.AMBULANCE) == (
        "一位邻居临时无法前来。求助已转交120急救，请等候专业救援、保持电话畅通。"
    )
