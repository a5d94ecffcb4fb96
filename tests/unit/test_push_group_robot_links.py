"""Attack: a whistle or referral recipient whose endpoint is a group robot (a 网格群, or a
property or duty officer configured as a WeCom/DingTalk robot) must not get one-time claim
or report-back links: anyone in the group could press them first and act as the recipient.
Refused by the endpoint's kind, whatever the recipient's role; a person's own channel (a
webhook relay) still gets links of their own."""

from __future__ import annotations

import re
from functools import partial

import httpx
from pydantic import SecretStr

from dispatcher.push import EndpointKind
from dispatcher.push.channels.wecom import WeComChannel
from dispatcher.push.deliveries import DeliveryPlanner
from dispatcher.push.endpoints import EndpointRegistry
from dispatcher.recipient_links import recipient_links, verify_recipient_token
from dispatcher.settings import Settings
from tests.unit.conftest import COMMUNITY, T0, World
from tests.unit.test_push_deliveries import BASE, KEYS, events, fake_links, registry

SETTINGS = Settings(link_secret=SecretStr("k" * 40), public_base_url=BASE)
C = f"community-{COMMUNITY}"
TOKEN = re.compile(r"/l/w/([A-Za-z0-9_\-.]+)")


def planner(world: World, reg: EndpointRegistry) -> DeliveryPlanner:
    return DeliveryPlanner(
        registry=reg,
        helper=world.state.helpers.get,
        request=world.state.requests.get,
        offer_links=fake_links,
        public_base_url=BASE,
        keys=KEYS,
        recipient_links=partial(recipient_links, SETTINGS),
    )


def event_of(world: World, name: str):  # type: ignore[no-untyped-def]
    world.submit()
    while not events(world, name):
        world.tick()
    [event] = events(world, name)
    return event


def test_a_group_robot_recipient_gets_no_claim_link(world: World) -> None:
    whistle = event_of(world, "whistle_blown")
    reg = registry(
        (C, EndpointKind.WECOM),
        (f"{C}.grid_group", EndpointKind.WECOM),
        (f"{C}.property", EndpointKind.DINGTALK),
        (f"{C}.grid_worker", EndpointKind.WEBHOOK),
    )
    out = {d.endpoint: d for d in planner(world, reg).plan(whistle).deliveries}
    for robot in (f"{C}.grid_group", f"{C}.property"):
        # What the robot would post into the group, not only the rendered text.
        content = WeComChannel(reg.get(robot), httpx.AsyncClient()).payload(out[robot])
        text = content["text"]["content"]
        assert TOKEN.findall(text) == [], f"claim/report link posted into {robot}"
        assert f"{BASE}/dashboard" in text
    # A person's own channel keeps links bound to them, which the server accepts.
    [claim, report] = TOKEN.findall(out[f"{C}.grid_worker"].message.text)
    for token, action in ((claim, "claim"), (report, "report")):
        link = verify_recipient_token(SETTINGS, token, T0)
        assert (link.action, link.recipient) == (action, f"{C}.grid_worker")


def test_a_referral_to_a_duty_robot_carries_the_dashboard_link_only(world: World) -> None:
    referral = event_of(world, "referred_to_emergency")
    reg = registry((C, EndpointKind.WECOM), (f"{C}.duty", EndpointKind.WECOM))
    [d] = planner(world, reg).plan(referral).deliveries
    assert d.endpoint == f"{C}.duty"
    assert TOKEN.findall(d.message.text) == []
    assert f"{BASE}/dashboard" in d.message.text and "120" in d.message.text
