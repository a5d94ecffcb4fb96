"""An offer's push tells the truth about its time, and its links work while the core would
take the answer (session 39, audit_time).

Before: an offer's accept and decline links were signed until the offer's own expiry (the
decision's time + its TTL), and its push said "请在10分钟内回复" counted from the decision.
An offer decided late (a worker behind a backlog: the decision's time is its command's) was
pushed saying 10 minutes with links already dead ("这条邀请已过有效期"), while the core still
takes a late answer on an open request with a free slot (request_commands.py: "A late
answer … still fills a free slot"). Now the links are signed until the request's end, as
the assignment's status link is, and "within N minutes" counts from the push's own time;
past the offer's own time it says "请尽快回复"."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import pytest
from pydantic import SecretStr

from dispatcher.links import OFFER_PATH, LinkExpired, action_links, verify_token
from dispatcher.push.deliveries import DeliveryPlanner
from dispatcher.settings import Settings
from schemas.events import Event
from schemas.records import OfferStatus
from schemas.vocab import Skill, Urgency
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import KEYS, ROBOTS, registry, with_channels

ASAP = "请尽快回复"
S = Settings(public_base_url="https://help.example.cn/", link_secret=SecretStr("s" * 32))


def planner(w: World, at: datetime) -> DeliveryPlanner:
    """The notify agent's planner with real offer links, its clock at `at`."""
    p = DeliveryPlanner(
        registry=registry(*ROBOTS),
        helper=w.state.helpers.get,
        request=w.state.requests.get,
        offer_links=partial(action_links, S),
        keys=KEYS,
        public_base_url=S.public_base_url,
        default_endpoint="default",
    )
    p.now = lambda: at
    return p


def _token(url: str) -> str:
    return url.split(OFFER_PATH, 1)[1]


def _offered() -> tuple[World, Event]:
    w = World()
    with_channels(w, "ann")  # the default webhook: her own links
    w.submit(urgency=Urgency.CRITICAL, skills=[Skill.DRIVING])
    [event] = w.offer_events()
    return w, event


@pytest.mark.parametrize(
    ("pushed_after", "says"),
    [
        (timedelta(seconds=-5), "请在10分钟内回复"),  # a clock behind: never more than its time
        (timedelta(0), "请在10分钟内回复"),
        (timedelta(minutes=3), "请在7分钟内回复"),
        (timedelta(minutes=9, seconds=40), "请在1分钟内回复"),
        (timedelta(minutes=10), ASAP),
        (timedelta(minutes=20), ASAP),  # decided 20 minutes before it is pushed
    ],
)
def test_reply_within_counts_from_the_push(pushed_after: timedelta, says: str) -> None:
    w, event = _offered()
    assert event.body.expires_at == event.occurred_at + timedelta(minutes=10)
    [d] = planner(w, event.occurred_at + pushed_after).plan(event).deliveries
    assert says in d.message.text, d.message.text
    assert ("分钟内回复" in d.message.text) is (says != ASAP)


def test_an_offer_pushed_late_has_links_that_work_until_the_request_ends() -> None:
    w, event = _offered()
    r = w.request()
    pushed = event.occurred_at + timedelta(minutes=20)  # a worker 20 minutes behind
    [d] = planner(w, pushed).plan(event).deliveries
    for action in ("accept", "decline"):
        token = _token(d.data[f"{action}_url"])
        # Opened a minute after the push: it works (before: dead for 11 minutes already).
        claims = verify_token(S, token, pushed + timedelta(minutes=1))
        assert claims.offer_id == event.body.offer_id and claims.kind == action
        with pytest.raises(LinkExpired):  # the request over, the link says so
            verify_token(S, token, r.ends_at)


def test_the_core_takes_the_answer_the_link_still_allows() -> None:
    """The page and the core agree: an accept on an offer past its time, the request open
    and its slot free, assigns the helper (so the link invites rather than says expired)."""
    w, event = _offered()
    r = w.request()
    w.now = event.body.expires_at + timedelta(minutes=1)
    while w.request().next_deadline is not None and w.request().next_deadline <= w.now:
        w.tick()  # each deadline due by then, the offer's expiry among them
    [offer] = [o for o in w.request().offers if o.helper_id == "ann"]
    assert offer.status is OfferStatus.EXPIRED and not w.request().terminal
    assert w.now < r.ends_at
    d = w.accept("ann")
    assert [b.helper_id for b in w.of_type("helper_assigned", d)] == ["ann"]
