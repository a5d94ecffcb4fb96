"""What the asking group hears at a request's end and at the whistle is what happened
(session 38 audit): a request the core closed at the end of its lifetime with a helper
assigned is not "求助已解决"; one staff claimed is not "暂时没有邻居接单" when it expires; a
whistle that called nobody is not "已通知社区值班人员协助". Each failed on the old texts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dispatcher.groupchat import texts
from dispatcher.groupchat.loop import GroupReplies, whistle_people
from dispatcher.push.endpoints import EndpointConfig, EndpointRegistry
from dispatcher.record.edge.group_threads import Thread
from schemas.config import Hotline, WhistleRecipient
from schemas.events import (
    Event,
    RequestExpired,
    RequestResolved,
    WhistleBlown,
)
from schemas.staff_actions import ClaimRequest, RequestClaimed
from schemas.vocab import Category, Party, Skill, Urgency
from tests.support.events import event_of as _event
from tests.support.group_posts import FlakyRobot as Sender
from tests.support.group_posts import thread_row
from tests.unit.conftest import World

DUTY = [Hotline(label="社区值班", number="0571-8888 0000")]
THREAD = Thread("req-1", "bot", "g1")


def _whistle(staff: tuple[str, ...] = ()) -> WhistleBlown:
    return WhistleBlown(
        step=3,
        staff_helper_ids=staff,
        category=Category.ERRAND,
        urgency=Urgency.NORMAL,
        building_label="3号楼",
        open_slots=1,
    )


def _run_out(w: World) -> None:
    for _ in range(50):
        if w.request().terminal or w.request().next_deadline is None:
            break
        w.tick()


# ---------------------------------------------------------------- the end of the lifetime


def test_a_request_closed_at_the_end_of_its_lifetime_is_not_said_to_be_solved() -> None:
    w = World()
    w.helper("h1", skills=(Skill.ERRANDS,))
    w.submit(category=Category.ERRAND, urgency=Urgency.NORMAL, skills=(Skill.ERRANDS,))
    w.accept("h1")  # and never presses 已完成
    _run_out(w)
    closing = [e for e in w.events if isinstance(e.body, RequestResolved)]
    assert closing and closing[-1].body.by is Party.SYSTEM  # the core's own close
    said = texts.update_for(closing[-1])
    assert said == "求助已到时结束。如仍需帮助，请重新求助或联系社区。"
    assert "已解决" not in (texts.update_for(closing[-1], DUTY) or "")
    assert "社区值班 0571-8888 0000" in (texts.update_for(closing[-1], DUTY) or "")


def test_a_request_someone_resolved_is_still_thanked_for() -> None:
    for by in (Party.REQUESTER, Party.HELPER, Party.STAFF):
        body = RequestResolved(by=by, helper_ids=("h1",), duration_s=60)
        assert texts.update_for(_event(body)) == "求助已解决，谢谢各位邻居！"


def test_a_claimed_request_that_expires_is_not_said_to_have_had_nobody() -> None:
    w = World()  # nobody on the roster: the ladder climbs to the whistle
    w.submit(category=Category.ERRAND, urgency=Urgency.NORMAL, skills=(Skill.ERRANDS,))
    for _ in range(50):
        if any(isinstance(e.body, WhistleBlown) for e in w.events):
            break
        w.tick()
    w.run(ClaimRequest(request_id="req-1", by="staff:grid-worker-li"))
    _run_out(w)
    assert any(isinstance(e.body, RequestClaimed) for e in w.events)
    expired = next(e for e in w.events if isinstance(e.body, RequestExpired))
    said = texts.update_for(expired, claimed=True)
    assert said == "求助已到时结束；社区工作人员已跟进，如仍需帮助请联系社区。"
    assert "没有邻居接单" not in (said or "")
    # Unclaimed, the old (true) text stays.
    assert (texts.update_for(expired) or "").startswith("暂时没有邻居接单，求助已结束")


# ---------------------------------------------------------------- the whistle


def test_a_whistle_that_called_nobody_says_so_with_the_communitys_numbers() -> None:
    nobody = _event(_whistle())
    assert texts.update_for(nobody, DUTY, whistle_people=0) == (
        "暂未联系上社区值班人员，请拨打社区电话：社区值班 0571-8888 0000。"
    )
    assert (
        texts.update_for(nobody, whistle_people=0) == "暂未联系上社区值班人员，如需帮助请联系社区。"
    )


def test_a_whistle_that_called_someone_says_they_were_told() -> None:
    told = "已通知社区值班人员协助。"
    assert texts.update_for(_event(_whistle(("staff-1",))), DUTY, whistle_people=0) == told
    assert texts.update_for(_event(_whistle()), DUTY, whistle_people=2) == told
    # The caller cannot tell (no configuration at hand): the whistle list is trusted.
    assert texts.update_for(_event(_whistle()), DUTY) == told


def _endpoint(name: str) -> EndpointConfig:
    return EndpointConfig(name=name, kind="wecom", url="http://wecom.test/send", token="KEY")


def test_whistle_people_counts_who_the_push_engine_would_call_not_the_group_robot() -> None:
    registry = EndpointRegistry(
        [
            _endpoint("community-c"),  # the community's group robot: no person
            _endpoint("community-c.duty.li"),  # by the convention
            _endpoint("wy-robot"),  # a contact's endpoint
            _endpoint("community-other.duty.x"),  # another community's
        ]
    )
    owners = {"wy-robot": "c", "community-other.duty.x": "other"}
    contact = WhistleRecipient(role="property", name="物业", endpoint="wy-robot")
    gone = WhistleRecipient(role="department", name="派出所", endpoint="no-such-endpoint")
    assert whistle_people("c", registry, owners.get, [contact, gone]) == 2
    only_group = EndpointRegistry([_endpoint("community-c")])
    assert whistle_people("c", only_group, owners.get, []) == 0
    assert whistle_people("c", EndpointRegistry([]), owners.get, [contact]) == 0


# ---------------------------------------------------------------- the loop passes them on


class Pool:
    """The loop's statements, as far as these posts need them: one thread, posts always
    recorded and taken, the read model's `claimed_by` as given."""

    def __init__(self, claimed: bool) -> None:
        self.claimed = claimed
        self.asked_requests = 0

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        assert "api_group_threads" in query
        return [thread_row("req-1")]

    async def fetchval(self, query: str, *args: Any) -> Any:
        if "FROM requests" in query:
            self.asked_requests += 1
            return self.claimed
        assert "api_group_posts" in query
        return True

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any] | None:
        # The request's row (an end's text: the number advised, whether anyone accepted):
        # nobody accepted, no number advised.
        assert "FROM requests" in query
        return {"emergency_advised": None, "first_accept_at": None}

    async def execute(self, query: str, *args: Any) -> None:
        return None


async def _heard(
    events: list[Event], claimed: bool = False, people: int | None = None
) -> tuple[list[str], Pool]:
    pool, sender = Pool(claimed), Sender()

    async def get() -> Pool:
        return pool

    g = GroupReplies(
        sender,  # type: ignore[arg-type]
        get,  # type: ignore[arg-type]
        hotlines=lambda community_id: DUTY,
        whistle_people=lambda community_id: people,
    )
    g._last_purge = time.monotonic()  # no purge in this stand-in
    try:
        await g.handle(events)
        for _ in range(100):
            if not g._tasks:
                break
            await asyncio.sleep(0.01)
    finally:
        await g.close()
    return sender.sent, pool


async def test_the_loop_says_staff_followed_up_on_a_request_the_read_model_shows_claimed() -> None:
    expired = _event(RequestExpired(offers_sent=3))
    sent, pool = await _heard([expired], claimed=True)
    assert sent == [texts.EXPIRED_CLAIMED + "也可联系社区值班 0571-8888 0000。"]
    assert pool.asked_requests == 1
    sent, _ = await _heard([expired], claimed=False)
    assert sent[0].startswith("暂时没有邻居接单，求助已结束")


async def test_the_loop_sees_a_claim_in_the_same_batch_as_the_expiry() -> None:
    claim = _event(RequestClaimed(by="staff:li"), event_id="e0")
    sent, _ = await _heard([claim, _event(RequestExpired(offers_sent=0))], claimed=False)
    assert sent[-1].startswith("求助已到时结束；社区工作人员已跟进")


async def test_the_loop_says_nobody_was_reached_when_the_whistle_called_nobody() -> None:
    sent, pool = await _heard([_event(_whistle())], people=0)
    assert sent == ["暂未联系上社区值班人员，请拨打社区电话：社区值班 0571-8888 0000。"]
    assert pool.asked_requests == 0  # only an expiry asks the read model
    sent, _ = await _heard([_event(_whistle())], people=1)
    assert sent == ["已通知社区值班人员协助。"]


def test_the_api_counts_the_whistle_list_of_its_live_configuration() -> None:
    """`create_app` wires `whistle_people` to the API's `ConfigView` (dev: the
    DISPATCH_PUSH_ENDPOINTS layer): a convention-named duty endpoint is someone to call."""
    from dispatcher.config.view import ConfigView

    view = ConfigView((), [_endpoint("community-c"), _endpoint("community-c.duty.li")])
    count = whistle_people("c", view.endpoints, view.endpoint_owner, view.whistle_recipients("c"))
    assert count == 1
    assert (
        whistle_people("d", view.endpoints, view.endpoint_owner, view.whistle_recipients("d")) == 0
    )


def test_a_referral_to_120_says_the_neighbour_on_the_way_still_comes() -> None:
    """A staff referral to 120 keeps the assigned neighbours (f06977a): the group hears so,
    as at the ladder's own emergency rung; to property, or with nobody coming, as before."""
    from schemas.events import RequestReferred
    from schemas.vocab import ReferralTarget

    coming = _event(RequestReferred(to=ReferralTarget.AMBULANCE, helpers_coming=1))
    assert texts.update_for(coming) == "求助已转交处理。已有邻居在路上，但仍请立即拨打120急救电话！"
    alone = _event(RequestReferred(to=ReferralTarget.AMBULANCE))
    assert texts.update_for(alone) == "求助已转交处理。请立即拨打120急救电话！"
    property_ = _event(RequestReferred(to=ReferralTarget.PROPERTY, helpers_coming=1))
    assert texts.update_for(property_) == "求助已转交处理。已转交物业处理。"
