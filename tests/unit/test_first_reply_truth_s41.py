"""The requester's first reply is true when it is sent (nobody has accepted yet) and tells
them when to call 120 as their urgency calls for.

1. A critical request's reply said "邻居们正在赶来" (and a missing person's "邻居们正在帮忙
   寻找") before anyone had accepted: at night nobody may. The call-now line stays first.
2. The seeds' pregnant woman alone at night ("亲爱的邻居们，我身体不舒服，谁能帮忙送我去医院？")
   is an urgent hospital transport, not life-threatening: her reply had no call line at
   all, while the same request held for quiet hours was told "如情况紧急，请拨打…".
"""

from __future__ import annotations

import re

import pytest

from dispatcher.api.chat_spec import spec_for_message
from dispatcher.api.models import ChatMessageIn
from dispatcher.api.replies import merged_reply_text, reply_text
from dispatcher.classify import classify
from dispatcher.classify import lexicon as lx
from dispatcher.classify.merge import _ADVICE
from dispatcher.groupchat.bots import GroupPlace
from schemas.places import PlacePath
from schemas.requests import RequestSource, RequestSpec
from schemas.vocab import Category, Urgency

# Said before any accept: neighbours coming, on the way, arriving, searching.
PROMISE = re.compile("正在赶来|在路上|赶到|马上到|马上就到|正在帮忙寻找|邻居们(也)?正在")
CALL_NOW = "请立即拨打120急救电话！"  # life at risk now: the order, first
IF_URGENT = "如情况紧急，请立即拨打120。"  # urgent: when to call

# The seeds' own sentences (/work/shared/seeds), punctuation and scraping artefacts as there.
PLEA = "亲爱的邻居们,我身体不舒服,谁能帮忙送我去医院?"  # 000_f6884d1cbdd2b718.txt
# 003_5fb2ab2acc3bad79.txt: the same plea, traditional, with the page's pinyin left in.
PLEA_TRADITIONAL = "親愛(ài)的鄰居們,我身體不舒服,誰(shuí)能幫忙送我去醫(yī)院?"
# 000_f6884d1cbdd2b718.txt: what was wrong with her.
PREGNANT = "怀孕6个多月的居民小林单独在家,突感腹痛和呼吸困难,无法自行到医院就诊。"
# 003_5fb2ab2acc3bad79.txt: the same, traditional.
PREGNANT_TRADITIONAL = (
    "原來(lái),懷孕6個(gè)多月的小林獨(dú)自在家,突感腹痛和呼吸困難,無(wú)法自行到醫(yī)院就診。"
)
# 002_be1ea5ef33090066.txt: the woman near eighty who collapsed at home.
COLLAPSED = "原来是她的邻居吴宝珠在家突然晕倒，凭借着仅存的一丝力气，向她拨通电话求助。"
# 001_2ff86ecf998b085e.txt: the card's everyday calls: a burst pipe, medicine to buy.
PIPE_AND_MEDICINE = "谁家水管破了,谁家要买药,随时可以拨打卡片上的电话,叫邻居来帮忙。"
MEDICINE = "谁家要买药"  # 001, the errand alone

# (text, urgency, the call line its first reply must carry, or None: no 120 at all)
SEED_CASES = [
    (PLEA, Urgency.URGENT, IF_URGENT),
    (PLEA_TRADITIONAL, Urgency.URGENT, IF_URGENT),
    (PREGNANT, Urgency.CRITICAL, CALL_NOW),
    (PREGNANT_TRADITIONAL, Urgency.CRITICAL, CALL_NOW),
    (COLLAPSED, Urgency.CRITICAL, CALL_NOW),
    # A burst pipe is the property's (and neighbours') business, not 120's.
    (PIPE_AND_MEDICINE, Urgency.URGENT, None),
    (MEDICINE, Urgency.NORMAL, None),
]
SEED_IDS = [
    "plea-000",
    "plea-003",
    "pregnant-000",
    "pregnant-003",
    "collapsed-002",
    "pipe-001",
    "medicine-001",
]

GROUP = GroupPlace(community_id="siming-bishan", compound_id="bishan", compound_name="碧山临海")


def _spec(text: str) -> tuple[RequestSpec, str | None]:
    """The chat route's spec and advice for `text` (`messages.py`: classify, then
    `spec_for_message`)."""
    found = classify(text)
    assert found.is_request, text
    msg = ChatMessageIn.model_validate(
        {"group_id": "g1", "message_id": "m1", "sender": {"id": "u1", "name": "小林"}, "text": text}
    )
    return spec_for_message(msg, found, GROUP, request_id="r1", bot_id="bot-1"), found.advice


@pytest.mark.parametrize(("text", "urgency", "line"), SEED_CASES, ids=SEED_IDS)
def test_a_seed_case_is_told_to_call_as_its_urgency_calls_for(
    text: str, urgency: Urgency, line: str | None
) -> None:
    spec, advice = _spec(text)
    assert spec.urgency is urgency, (text, spec.urgency)
    said = reply_text(spec, advice)
    assert not PROMISE.search(said), said  # nobody has accepted yet
    if line is None:
        assert "120" not in said, said
    elif line == CALL_NOW:
        assert said.startswith(CALL_NOW), said  # the order comes first
        assert IF_URGENT not in said, said  # and not weakened by an "if"
    else:
        assert IF_URGENT in said and "请立即拨打120急救电话" not in said, said
        assert spec.emergency() is None  # urgent only: dispatch is not changed by the line


@pytest.mark.parametrize(("text", "urgency", "line"), SEED_CASES, ids=SEED_IDS)
def test_a_second_report_of_a_seed_case_before_an_accept_promises_nobody(
    text: str, urgency: Urgency, line: str | None
) -> None:
    spec, advice = _spec(text)
    said = merged_reply_text(spec, advice)
    assert not PROMISE.search(said), said
    if line is not None:
        assert "拨打120" in said, said


def test_the_pregnant_woman_alone_is_told_when_to_call() -> None:
    spec, advice = _spec(PLEA)
    assert spec.category is Category.HOSPITAL_TRANSPORT and advice is None
    assert reply_text(spec, advice) == (
        # A chat sender left no phone: nobody asks her to keep one free (session 41).
        "已收到求助，正在通知附近2位邻居（其中1位电话指导）。" + IF_URGENT
    )
    # Told the same once a neighbour is on it (a second report), and as before when held.
    assert IF_URGENT in merged_reply_text(spec, advice, helpers_assigned=1)
    assert "如情况紧急" in reply_text(spec, advice, held_until="07:00")


def _made(category: Category, urgency: Urgency, bot_id: str = "bot-1") -> RequestSpec:
    return RequestSpec(
        request_id="r1",
        community_id="c1",
        place=PlacePath(community_id="c1"),
        category=category,
        urgency=urgency,
        source=RequestSource(bot_id=bot_id),
    )


@pytest.mark.parametrize("category", [Category.MEDICAL, Category.HOSPITAL_TRANSPORT, Category.FALL])
def test_only_urgent_health_requests_get_the_if_urgent_line(category: Category) -> None:
    assert IF_URGENT in reply_text(_made(category, Urgency.URGENT))
    assert IF_URGENT not in reply_text(_made(category, Urgency.NORMAL))
    critical = reply_text(_made(category, Urgency.CRITICAL))
    assert critical.startswith(CALL_NOW) and IF_URGENT not in critical
    # The contact card's page leads with its own call line for these kinds.
    assert IF_URGENT not in reply_text(_made(category, Urgency.URGENT, bot_id="card"))


@pytest.mark.parametrize("category", [Category.ERRAND, Category.REPAIR, Category.CARRYING])
def test_an_urgent_chore_is_not_sent_to_120(category: Category) -> None:
    assert "120" not in reply_text(_made(category, Urgency.URGENT))


@pytest.mark.parametrize("kind", list(lx.EMERGENCIES))
def test_no_advice_the_first_reply_leads_with_promises_neighbours(kind: lx.EmergencyKind) -> None:
    advice = lx.EMERGENCIES[kind].advice
    assert not PROMISE.search(advice), (kind, advice)
    assert "拨打" in advice or "警铃" in advice, (kind, advice)  # still says whom to call


def test_the_language_models_advice_promises_nobody() -> None:
    for advice in _ADVICE.values():
        assert not PROMISE.search(advice), advice


@pytest.mark.parametrize(
    "text",
    [
        "我爸摔倒了，起不来",
        "我在家突然晕倒了",
        "孩子找不到了",
        "有人想跳楼",
        "有人被困在里面出不来，救命",
    ],
)
def test_a_critical_first_reply_keeps_its_call_first_and_promises_nobody(text: str) -> None:
    spec, advice = _spec(text)
    assert spec.urgency is Urgency.CRITICAL and advice, text
    said = reply_text(spec, advice)
    assert said.startswith(advice.split("！")[0]), said  # the call-now line first
    assert not PROMISE.search(said), said
    assert "正在通知" in said, said  # what is true: neighbours are being asked
