"""The helper's own messages through the real core and the delivery planner: the welcome
(their personal page link, private, once), the thank-you after "done", the monthly
summary (once per month)."""

from __future__ import annotations

from datetime import datetime

import pytest

from dispatcher.push import EndpointKind, PushKind
from dispatcher.push.deliveries import DeliveryPlanner
from dispatcher.push.helper_texts import SummarySpec, render_summary
from schemas.commands import CompleteAssignment, DeactivateHelper, SetHelperOffer
from schemas.helper_messages import SendHelperSummary, WelcomeHelper
from schemas.vocab import Skill
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import BASE, PHONE, ROBOTS, events, planner, registry
from tests.unit.test_push_deliveries import with_channels as channels

MONTH = "2026-11"


def personal(helper_id: str, community_id: str, now: datetime) -> str:
    return f"{BASE}/l/h/personal-{helper_id}-{community_id}"


def welcomed(world: World) -> list[str]:
    return [e.body.helper_id for e in events(world, "helper_welcomed")]


def test_welcome_is_sent_once_per_helper(world: World) -> None:
    world.helper("ann", phone=PHONE)
    world.run(WelcomeHelper(helper_id="ann"))
    assert world.state.helpers["ann"].welcomed_at == world.now
    again = world.run(WelcomeHelper(helper_id="ann"))  # a re-run of the staff command
    assert again.events == () and welcomed(world) == ["ann"]


def test_welcome_for_an_unknown_or_retired_helper_sends_nothing(world: World) -> None:
    out = world.run(WelcomeHelper(helper_id="nobody"))
    assert [r.reason for r in world.of_type("command_rejected", out)] == ["unknown_helper"]
    world.helper("gone")
    world.run(DeactivateHelper(helper_id="gone"))
    assert world.run(WelcomeHelper(helper_id="gone")).events == ()
    assert welcomed(world) == []


def test_summary_once_per_helper_per_month(world: World) -> None:
    world.helper("ann")
    body = SendHelperSummary(helper_id="ann", month=MONTH, requests_helped=3, minutes=135)
    world.run(body)
    assert world.run(body).events == ()  # the same month again: nothing
    world.run(body.model_copy(update={"month": "2026-12"}))
    sent = [(e.body.month, e.body.minutes) for e in events(world, "helper_summary_sent")]
    assert sent == [(MONTH, 135), ("2026-12", 135)]
    assert world.state.helpers["ann"].summary_months == (MONTH, "2026-12")


def test_summary_month_must_be_a_month() -> None:
    with pytest.raises(ValueError):
        SendHelperSummary(helper_id="ann", month="2026-13", requests_helped=0, minutes=0)


def _planner(world: World) -> DeliveryPlanner:
    p = planner(world, registry(*ROBOTS))
    p.personal_link = personal
    return p


def test_the_welcome_goes_privately_with_the_personal_page(world: World) -> None:
    channels(world, "private-driver")  # the default webhook: a private channel
    world.run(WelcomeHelper(helper_id="private-driver"))
    [d] = _planner(world).plan(events(world, "helper_welcomed")[0]).deliveries
    url = personal("private-driver", world.state.helpers["private-driver"].community_id, world.now)
    assert (d.kind, d.endpoint, d.recipient) == (PushKind.WELCOME, "default", "private-driver")
    assert url in d.message.text and d.data["personal_url"] == url
    assert "免打扰" in d.message.text


def test_the_welcome_never_goes_to_a_group_robot(world: World) -> None:
    channels(world, "group-driver", "wecom:grid-3")  # only a group robot
    world.run(WelcomeHelper(helper_id="group-driver"))
    planned = _planner(world).plan(events(world, "helper_welcomed")[0])
    assert planned.deliveries == [] and "no private channel" in planned.warnings[0]
    assert registry(*ROBOTS).get("grid-3").is_group and ROBOTS[1][1] is EndpointKind.WECOM


def test_done_brings_a_thank_you_with_the_minutes(world: World) -> None:
    channels(world, "private-driver")
    world.submit(helpers_needed=1)
    world.accept("private-driver")
    world.run(CompleteAssignment(request_id="req-1", helper_id="private-driver", minutes=75))
    [d] = _planner(world).plan(events(world, "assignment_completed")[0]).deliveries
    assert d.kind is PushKind.THANK_YOU and d.recipient == "private-driver"
    assert "1小时15分钟" in d.message.text and "谢谢" in d.message.text


def test_summary_text() -> None:
    assert "帮助了3次" in render_summary(SummarySpec(MONTH, 3, 135)).text
    assert "2小时15分钟" in render_summary(SummarySpec(MONTH, 3, 135)).text
    assert "2026年11月" in render_summary(SummarySpec(MONTH, 0, 0)).title


def test_summary_claims_no_more_than_the_record_shows() -> None:
    # Nothing counted: not "您没有接单" (a helper who accepted then withdrew did take one).
    none = render_summary(SummarySpec(MONTH, 0, 0)).text
    assert "没有接单" not in none and "没有您帮忙的记录" in none
    # Helped, but nobody pressed 已完成: no minutes recorded, which is not "0分钟" of service.
    unmarked = render_summary(SummarySpec(MONTH, 2, 0)).text
    assert "帮助了2次" in unmarked and "0分钟" not in unmarked and "已完成" in unmarked


def test_the_helper_sets_what_they_offer_and_how_to_reach_them(world: World) -> None:
    world.helper("ann", skills=[Skill.DRIVING])
    out = world.run(
        SetHelperOffer(helper_id="ann", skills=(Skill.PLUMBING,), channels=("webhook:phones",))
    )
    profile = world.state.helpers["ann"].profile
    assert profile.skills == (Skill.PLUMBING,) and profile.channels == ("webhook:phones",)
    assert [e.helper_id for e in world.of_type("helper_updated", out)] == ["ann"]
    assert world.state.index.entries["ann"].skills == frozenset({Skill.PLUMBING})
    # channels=None leaves the channel; the same choice again changes nothing.
    world.run(SetHelperOffer(helper_id="ann", skills=(Skill.PLUMBING,)))
    assert world.state.helpers["ann"].profile.channels == ("webhook:phones",)
    assert world.run(SetHelperOffer(helper_id="ann", skills=(Skill.PLUMBING,))).events == ()
    with pytest.raises(ValueError):
        SetHelperOffer(helper_id="ann", skills=())  # offering nothing is not a choice
