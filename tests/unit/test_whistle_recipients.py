"""The whistle goes to each recipient of the community's whistle list with links of their
own; the referral rung reaches the duty officer (else the grid worker) with a claim link.
Recipient links: bound to one recipient and action, refused when forged, edited, expired
or presented as an offer link."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from dispatcher.links import LinkExpired, LinkTampered, verify_token
from dispatcher.push import EndpointKind, PushKind
from dispatcher.push.deliveries import DeliveryPlanner
from dispatcher.push.recipients import referral_recipients, whistle_recipients
from dispatcher.recipient_links import recipient_links, verify_recipient_token
from dispatcher.settings import Settings
from schemas.vocab import Skill
from tests.unit.conftest import COMMUNITY, T0, World
from tests.unit.test_push_deliveries import BASE, KEYS, events, fake_links, registry

C = f"community-{COMMUNITY}"
ENDPOINTS = (
    (C, EndpointKind.WECOM),
    (f"{C}.grid_worker", EndpointKind.WEBHOOK),
    (f"{C}.property", EndpointKind.WECOM),
    (f"{C}.department.城管", EndpointKind.WEBHOOK),
    ("community-other.grid_worker", EndpointKind.WEBHOOK),
    (f"{C}.unknown_role", EndpointKind.WEBHOOK),
)


def fake_recipient_links(**kw: Any) -> dict[str, str]:
    return {a: f"{BASE}/l/w/{a}-{kw['recipient']}" for a in ("claim", "report")}


def planner(world: World, *endpoints: tuple[str, EndpointKind]) -> DeliveryPlanner:
    return DeliveryPlanner(
        registry=registry(*endpoints),
        helper=world.state.helpers.get,
        request=world.state.requests.get,
        offer_links=fake_links,
        public_base_url=BASE,
        recipient_links=fake_recipient_links,
        keys=KEYS,
    )


def test_the_list_comes_from_the_endpoint_names() -> None:
    names = [n for n, _ in ENDPOINTS]
    found = [(r.role, r.name) for r in whistle_recipients(names, COMMUNITY)]
    assert found == [("group", ""), ("grid_worker", ""), ("property", ""), ("department", "城管")]
    everyone = whistle_recipients(names, COMMUNITY)
    assert [r.role for r in referral_recipients(everyone)] == ["grid_worker"]
    with_duty = whistle_recipients([*names, f"{C}.duty"], COMMUNITY)
    assert [r.role for r in referral_recipients(with_duty)] == ["duty"]


def test_the_whistle_calls_each_recipient_with_their_own_links(world: World) -> None:
    world.helper("driver", skills=[Skill.DRIVING])
    world.submit()
    while not events(world, "whistle_blown"):
        world.tick()
    [whistle] = events(world, "whistle_blown")
    out = planner(world, *ENDPOINTS).plan(whistle).deliveries
    assert [d.endpoint for d in out] == [
        C,
        f"{C}.grid_worker",
        f"{C}.property",
        f"{C}.department.城管",
    ]
    assert len({d.delivery_id for d in out}) == 4  # each recipient counted and retried alone
    # The community group and the property's WeCom robot are group robots: anyone in the
    # group could press a claim link first, so they get the dashboard link only.
    group, grid_worker, property_robot, department = out
    for robot in (group, property_robot):
        assert f"{BASE}/dashboard" in robot.message.text and "/l/w/" not in robot.message.text
    for d in (grid_worker, department):
        assert d.kind is PushKind.WHISTLE
        assert f"{BASE}/l/w/report-{d.recipient}" in d.message.text
        assert f"{BASE}/l/w/claim-{d.recipient}" in d.message.text
        assert "13800000000" not in d.message.text
    assert "请网格员协助" in out[1].message.text


def test_the_referral_rung_reaches_a_person(world: World) -> None:
    world.submit()
    while not events(world, "referred_to_emergency"):
        world.tick()
    [referral] = events(world, "referred_to_emergency")
    [d] = planner(world, *ENDPOINTS).plan(referral).deliveries
    assert d.endpoint == f"{C}.grid_worker"
    assert f"{BASE}/l/w/claim-{C}.grid_worker" in d.message.text
    assert "120" in d.message.text
    nobody = planner(world, (C, EndpointKind.WECOM)).plan(referral)
    assert nobody.deliveries == [] and nobody.warnings


SETTINGS = Settings(link_secret=SecretStr("k" * 40), public_base_url=BASE)


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_recipient_links_are_bound_and_refused_when_tampered() -> None:
    links = recipient_links(
        SETTINGS,
        request_id="req-1",
        community_id=COMMUNITY,
        recipient="gw",
        role="grid_worker",
        now=T0,
    )
    claim = verify_recipient_token(SETTINGS, _token(links["claim"]), T0)
    assert (claim.action, claim.recipient, claim.role) == ("claim", "gw", "grid_worker")
    assert verify_recipient_token(SETTINGS, _token(links["report"]), T0).action == "report"
    token = _token(links["claim"])
    body, mac = token.split(".")
    edited = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    other = Settings(link_secret=SecretStr("z" * 40))
    for bad in (edited, token + "x", "", "a.b", token.replace(".", "..")):
        with pytest.raises(LinkTampered):
            verify_recipient_token(SETTINGS, bad, T0)
    with pytest.raises(LinkTampered):
        verify_recipient_token(other, token, T0)  # another deployment's secret
    with pytest.raises(LinkExpired):
        verify_recipient_token(SETTINGS, token, T0 + timedelta(days=2))
    with pytest.raises(LinkTampered):
        verify_token(SETTINGS, token, T0)  # not an offer link either
