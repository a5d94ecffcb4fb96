"""A helper's late withdrawal with nobody left to ask is never a silent wait (session 40 audit).

The only helper of a critical request withdrew (去不了了) at the referral rung, or past the
last rung of a partly filled request: the slot reopened, the re-wave found nobody, and the
whistle or referral rung only restarted its wait (past the last rung: nothing until the end
of the lifetime, 2 h for a critical one, so the DispatchCriticalUnanswered alert came 2 h
late). Nobody was asked, staff were not pushed, 120 was not said again, and the group heard
"正在联系其他邻居". Now the whistle blows again and a critical request is referred again
(`ladder.call_again`), `HelperWithdrawn.offers_sent` says how many neighbours were asked,
and the group hears "正在联系其他邻居" only when some were. And an end after someone accepted
and withdrew is not "暂时没有邻居接单"; a life-threatening request's end repeats its number.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from dispatcher.groupchat import texts
from schemas.commands import WithdrawHelper
from schemas.events import Event, HelperWithdrawn, RequestExpired, RequestResolved
from schemas.plans import DEFAULT_PLANS
from schemas.records import RequestStatus
from schemas.vocab import Category, Party, ReferralTarget, Skill, Urgency
from tests.support.group_posts import heard, thread_row
from tests.unit.conftest import T0, World

WITHDRAW = WithdrawHelper(request_id="req-1", helper_id="h1")


def _world() -> World:
    w = World()
    w.state.plans = DEFAULT_PLANS
    w.helper("h1", skills=(Skill.DRIVING,))
    return w


def _at(w: World, seconds: float) -> None:
    w.now = T0 + timedelta(seconds=seconds)


def _withdrawn(events: Any) -> HelperWithdrawn:
    (body,) = [e.body for e in events if isinstance(e.body, HelperWithdrawn)]
    return body


def _accepted_at_the_referral_rung() -> World:
    """Critical, h1 the only neighbour: nobody answers, the ladder reaches the referral rung
    (180 s); h1 accepts at 300 s."""
    w = _world()
    w.submit()
    while w.request().step < 3:
        w.tick()
    _at(w, 300)
    w.accept("h1")
    assert w.request().status is RequestStatus.FILLED
    return w


def test_the_only_helper_withdrawing_at_the_referral_rung_calls_staff_and_120_again():
    w = _accepted_at_the_referral_rung()
    _at(w, 400)
    out = w.run(WITHDRAW)
    # Old code: only helper_withdrawn; the referral rung waited again, unseen.
    assert [e.body.type for e in out.events] == [
        "helper_withdrawn",
        "whistle_blown",
        "ring_escalated",
        "referred_to_emergency",
    ]
    assert _withdrawn(out.events).offers_sent == 0
    (referral,) = w.of_type("referred_to_emergency", out)
    assert referral.to is ReferralTarget.AMBULANCE and referral.helpers_coming == 0
    heard = [texts.update_for(e, whistle_people=1) for e in out.events]
    assert heard == [
        texts.WITHDRAWN_NOBODY,
        # Life-threatening: the staff sentence never stands alone (session 41).
        texts.WHISTLE_CALLED + "如情况仍危急，请立即拨打120急救电话！",
        None,
        "暂时没有邻居能及时赶到。请立即拨打120急救电话！",
    ]
    r = w.request()
    assert (r.status, r.step) == (RequestStatus.OPEN, 3)
    assert r.next_deadline == w.now + timedelta(seconds=900)  # the referral's wait, afresh


def test_a_partly_filled_critical_request_past_its_ladder_gets_a_deadline_again():
    """Two helpers needed, one accepted: the ladder ran past its last rung with them on
    the way. They withdraw at 1200 s: the old code left it open, nobody assigned or asked,
    until 7200 s."""
    w = _world()
    w.submit(helpers_needed=2)
    w.later(5)
    w.accept("h1")
    while w.request().step < 4:
        w.tick()
    assert w.request().next_deadline == T0 + timedelta(hours=2)
    _at(w, 1200)
    out = w.run(WITHDRAW)
    assert _withdrawn(out.events).offers_sent == 0
    assert w.of_type("whistle_blown", out)
    (referral,) = w.of_type("referred_to_emergency", out)
    assert referral.helpers_coming == 0
    assert w.request().next_deadline == w.now + timedelta(seconds=900)
    w.tick()
    assert w.request().status is RequestStatus.EXPIRED
    assert w.now == T0 + timedelta(seconds=2100)  # not 7200 s


def test_a_chore_past_its_last_rung_blows_the_whistle_again_with_its_wait():
    """Urgent, two helpers, one accepted and the ladder ran out (its last rung is the
    whistle): the withdrawal blows it again, with the whistle's wait as the deadline; no
    referral (not life-threatening)."""
    w = _world()
    w.submit(urgency=Urgency.URGENT, category=Category.ERRAND, helpers_needed=2)
    w.later(5)
    w.accept("h1")
    while w.request().step < len(DEFAULT_PLANS[Urgency.URGENT].steps):
        w.tick()
    w.later(60)
    out = w.run(WITHDRAW)
    assert [e.body.type for e in out.events] == ["helper_withdrawn", "whistle_blown"]
    assert _withdrawn(out.events).offers_sent == 0
    assert w.request().next_deadline == w.now + timedelta(seconds=1800)


def test_a_withdrawal_that_asks_someone_says_so_and_blows_nothing():
    w = _accepted_at_the_referral_rung()
    w.helper("h2", skills=(Skill.DRIVING,))  # joined since: found by the re-wave
    _at(w, 400)
    out = w.run(WITHDRAW)
    assert w.offered(out) == ["h2"]
    assert _withdrawn(out.events).offers_sent == 1
    assert not w.of_type("whistle_blown", out) and not w.of_type("referred_to_emergency", out)
    assert texts.update_for(out.events[0]) == texts.WITHDRAWN_ASKING


def test_a_withdrawal_climbing_to_the_whistle_for_the_first_time_blows_it_once():
    """Withdrawn before the whistle: the re-wave finds nobody and climbs to it (as before),
    which is not blown a second time by the same withdrawal."""
    w = _world()
    w.submit()
    w.later(5)
    w.accept("h1")
    w.later(600)
    out = w.run(WITHDRAW)
    assert len(w.of_type("whistle_blown", out)) == 1
    assert _withdrawn(out.events).offers_sent == 0
    assert texts.update_for(out.events[0]) == texts.WITHDRAWN_NOBODY


def test_the_withdrawal_keeps_its_place_and_its_id_and_replays_the_same():
    first, second = _accepted_at_the_referral_rung(), _accepted_at_the_referral_rung()
    for w in (first, second):
        _at(w, 400)
    a = first.run(WITHDRAW, command_id="withdraw-1")
    b = second.run(WITHDRAW, command_id="withdraw-1")
    assert [e.model_dump_json() for e in a.events] == [e.model_dump_json() for e in b.events]
    assert len({e.event_id for e in a.events}) == len(a.events)
    assert first.request() == second.request()


def test_offers_sent_is_left_out_when_unknown_and_an_older_event_reads_as_before():
    old = HelperWithdrawn(offer_id="o", helper_id="h", slot=0, no_show=False)
    assert "offers_sent" not in json.loads(old.model_dump_json())
    nobody = old.model_copy(update={"offers_sent": 0})
    assert json.loads(nobody.model_dump_json())["offers_sent"] == 0
    assert HelperWithdrawn.model_validate_json(nobody.model_dump_json()).offers_sent == 0
    assert texts.update_for(_event(old)) == texts.WITHDRAWN_ASKING  # not known: as before
    assert texts.update_for(_event(nobody)) == texts.WITHDRAWN_NOBODY
    said = texts.update_for(_event(nobody), advised=ReferralTarget.AMBULANCE)
    assert said == texts.WITHDRAWN_NOBODY + "如情况仍危急，请立即拨打120急救电话！"


def test_an_expiry_after_an_accept_and_a_withdrawal_does_not_say_nobody_took_it():
    expired = _event(RequestExpired(offers_sent=1))
    assert texts.update_for(expired) == texts.EXPIRED
    assert texts.update_for(expired, accepted_before=True) == texts.EXPIRED_WITHDRAWN
    assert "暂时没有邻居接单" not in texts.EXPIRED_WITHDRAWN
    critical = texts.update_for(expired, advised=ReferralTarget.AMBULANCE)
    assert critical == texts.EXPIRED + "如情况仍危急，请立即拨打120急救电话！"
    ended = _event(RequestResolved(by=Party.SYSTEM, helper_ids=("h1",), duration_s=7200))
    assert texts.update_for(ended, advised=ReferralTarget.FIRE) == (
        texts.SYSTEM_CLOSED + "如情况仍危急，请立即拨打119！"
    )


class _Pool:
    """The loop's statements for one thread of req-1; the request's row as the read model
    holds it (the number advised, the first accept)."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        assert "api_group_threads" in query
        return [thread_row("req-1")]

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any] | None:
        if "FROM event_log" in query:
            return None  # never paused for quiet hours
        assert "FROM requests" in query
        return self.row

    async def fetchval(self, query: str, *args: Any) -> Any:
        # Not claimed (the requests row); a post recorded, taken (api_group_posts).
        return "FROM requests" not in query

    async def execute(self, query: str, *args: Any) -> None:
        return None


async def test_the_loop_tells_the_truth_at_the_end_and_after_a_withdrawal():
    w = _accepted_at_the_referral_rung()
    _at(w, 400)
    withdrawal = list(w.run(WITHDRAW).events)
    row = {"emergency_advised": "120", "first_accept_at": T0, "referred_to": None}
    w.tick()
    expiry = [e for e in w.events if isinstance(e.body, RequestExpired)]
    assert expiry, "expired after the referral's wait"
    posts = await heard(_Pool(row), [], lambda: w.now, withdrawal, expiry)
    assert posts[0] == texts.WITHDRAWN_NOBODY + "如情况仍危急，请立即拨打120急救电话！"
    assert "正在联系其他邻居" not in "".join(posts)
    assert posts[-1] == texts.EXPIRED_WITHDRAWN + "如情况仍危急，请立即拨打120急救电话！"


def _event(body: Any) -> Event:
    return Event(
        event_id="e1",
        community_id="c",
        request_id="req-1",
        occurred_at=T0,
        caused_by="cmd",
        body=body,
    )
