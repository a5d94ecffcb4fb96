"""The requester's "修好了" closes their request only when it is their own word and stands
(session 39, after 9d4ce8a widened the solved wording).

Reported speech or a guess before the solved words ("物业说修好了", "以为搞定了", "听说已经
解决了") and a contrast or relapse anywhere after them ("修好了，可还在漏水", "修好了又坏了")
leave the request open: the platform route no longer sends ResolveRequest(by=REQUESTER),
which stood the helpers down while the help was still needed. Before: each of these closed it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dispatcher.classify import classify
from dispatcher.groupchat import texts
from schemas.commands import CancelRequest, ResolveRequest
from tests.support.dingtalk_app import CommandSink, bot_app, dingtalk_bot
from tests.support.platform_edge import fake_edge
from tests.support.platform_edge import say as in_group

# The review's cases: someone else's claim, then what the requester sees.
STILL_NEEDED = (
    "说是修好了，可还在漏水",
    "物业说修好了，结果还是没水",
    "以为修好了，又坏了",
    "我妈说没事了，可我看她脸色不好",
    "他们说弄好了，还是不行",
)
HEARSAY = (
    "听说已经修好了",
    "据说搞定了",
    "本来修好了",
    "好像修好了",
    "应该是修好了",
    "可能已经解决了",
    "物业告诉我修好了",
    "师傅讲已经修好了",
    "我觉得修好了",
    "看起来修好了",
)
UNDONE_LATER = (
    "修好了又坏了",
    "弄好了但是还是不行",
    "修好了，不过还有点漏",
    "修好了，可是还在滴水",
    "已经解决了，但是又停电了",
    "搞定了，结果第二天又漏了",
    "修好了，没用",
    "弄好了，不行",
    "修好了，仍然漏水",
    "没事了，就是还有点头晕",
    "修好了，还没来水",
    "处理好了，却还是堵",
    "办好了，只是还缺一份材料",
    "修好了，反而更漏了",
    "修好了，依然没热水",
)
# Still the requester's own "solved" (test_group_truth_s39's, and "可以" is no "可").
STILL_SOLVED = (
    "修好了，谢谢",
    "已经解决了，谢谢邻居",
    "搞定了",
    "没事了，谢谢大家",
    "没事了，已经好了",
    "修好了，可以用了，谢谢",
    "水管修好了，不漏了，谢谢",
    "邻居帮我弄好了，太感谢了",
    "不用了，已经解决",
)


@pytest.mark.parametrize("text", STILL_NEEDED + HEARSAY + UNDONE_LATER)
def test_reported_guessed_or_undone_closes_nothing(text: str) -> None:
    assert not texts.is_solved_reply(text)
    assert not texts.is_cancel_reply(text)
    assert not texts.cancels(text, classify(text))


@pytest.mark.parametrize("text", STILL_SOLVED)
def test_the_requesters_own_solved_still_resolves(text: str) -> None:
    assert texts.is_solved_reply(text)
    assert texts.cancels(text, classify(text))


def test_an_explicit_take_back_beside_hearsay_is_a_cancel_not_solved() -> None:
    """ "不用了" is the requester's own word: it takes the request back; the reported
    "修好了" beside it claims nothing solved."""
    text = "不用了，物业说修好了"
    assert texts.is_cancel_reply(text) and not texts.is_solved_reply(text)


def test_fixed_again_after_a_relapse_is_solved() -> None:
    """Only what follows a match undoes it: the last "修好了" stands."""
    assert texts.is_solved_reply("修好了又坏了，现在又修好了，谢谢")


# ---------------------------------------------------------------- through the platform route

BOT, GROUP, COMMUNITY = "dt-solved-s39", "cidGroupSolvedS39==", "comm-solved-s39"
OPEN = "req-open-s39"


async def _said(monkeypatch: pytest.MonkeyPatch, text: str) -> tuple[httpx.Response, list[Any]]:
    """`text` from the sender of the open request OPEN, through the DingTalk route: the
    answer, and the closing commands (resolve or cancel) it sent."""
    fake_edge(monkeypatch, OPEN)
    sink = CommandSink()
    r = await in_group(bot_app(dingtalk_bot(BOT, GROUP, COMMUNITY), sink), BOT, GROUP, text)
    assert r.status_code == 200, r.text
    return r, [c.body for c in sink.sent if isinstance(c.body, ResolveRequest | CancelRequest)]


@pytest.mark.parametrize("text", STILL_NEEDED)
async def test_a_reported_fix_leaves_the_open_request_open(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    r, closing = await _said(monkeypatch, text)
    assert "resolved" not in r.json() and "cancelled" not in r.json()
    assert not closing, f"{text!r} closed the open request: {r.text}"


async def test_the_requesters_own_fix_resolves_through_the_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r, closing = await _said(monkeypatch, "修好了，谢谢")
    assert r.json() == {"is_request": False, "resolved": OPEN}
    [solved] = closing
    assert isinstance(solved, ResolveRequest) and solved.request_id == OPEN
