"""A community's messages go only to its own endpoints or district-wide ones, whatever an
endpoint's name says: endpoints planted by another community's staff (before names were
checked when written) under B's naming convention, as `default`, or under a name B's
contacts or helpers use, receive none of B's whistles, referrals or offers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dispatcher.config.view import ConfigView, endpoint_state
from dispatcher.push import EndpointConfig, EndpointKind
from dispatcher.push.deliveries import DeliveryPlanner
from dispatcher.push.recipients import serves
from schemas.config import ConfigKind, ConfigRecord
from schemas.vocab import Skill
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_push_deliveries import BASE, KEYS, events, fake_links, with_channels
from tests.unit.test_whistle_recipients import fake_recipient_links

RELAY_SECRET = "whsec_c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3M="  # the key b"s" * 32

B = COMMUNITY  # the world's community
A = "cfg-a"  # the attacker's
C = f"community-{B}"
WRITTEN = datetime(2024, 3, 1, tzinfo=UTC)


def endpoint(name: str, kind: EndpointKind = EndpointKind.WEBHOOK) -> EndpointConfig:
    if kind is EndpointKind.WEBHOOK:
        return EndpointConfig(name=name, kind=kind, url=BASE + "/h", secret=RELAY_SECRET)
    return EndpointConfig(name=name, kind=kind, url="https://robot.example/send", token="t0k3n")


def record(kind: ConfigKind, entity_id: str, state: dict[str, Any], actor: str) -> ConfigRecord:
    return ConfigRecord(
        change_id=f"{actor}-{entity_id}",
        kind=kind,
        id=entity_id,
        actor=actor,
        issued_at=WRITTEN,
        state=state,
    )


def put(view: ConfigView, name: str, owner: str | None, actor: str, **kw: EndpointKind) -> None:
    state = endpoint_state(endpoint(name, **kw), owner)
    assert view.apply(record(ConfigKind.ENDPOINT, name, state, actor))


@pytest.fixture
def view() -> ConfigView:
    """B's own group robot and grid worker, an operator-seeded property endpoint (owned by
    "<B>.property", as config/bootstrap.py names it), and what A's staff planted."""
    v = ConfigView()
    put(v, C, B, "staff-b", kind=EndpointKind.WECOM)
    put(v, f"{C}.grid_worker", B, "staff-b")
    put(v, f"{C}.property", f"{B}.property", "bootstrap")
    put(v, "b-relay", None, "ops")  # district-wide
    put(v, f"{C}.duty.x", A, "staff-a")  # B's referral goes to a duty officer first
    put(v, f"{C}.department.cg", A, "staff-a")
    put(v, "default", A, "staff-a")  # helpers without channels
    put(v, "relay-b2", A, "staff-a")  # a name B's contacts and helpers use
    contacts = [{"role": "department", "name": "街道", "endpoint": "relay-b2"}]
    doc = {"community_id": B, "display_name": "B社区", "contacts": contacts}
    assert v.apply(record(ConfigKind.COMMUNITY, B, doc, "staff-b"))
    return v


def planner(world: World, view: ConfigView) -> DeliveryPlanner:
    """As streams/notify.py builds it: the live view's registry, default `default`."""
    return DeliveryPlanner(
        registry=view.endpoints,
        helper=world.state.helpers.get,
        request=world.state.requests.get,
        offer_links=fake_links,
        public_base_url=BASE,
        default_endpoint="default",
        recipient_links=fake_recipient_links,
        keys=KEYS,
        whistle_recipients=view.whistle_recipients,
    )


def test_bs_whistle_and_referral_skip_endpoints_a_planted(world: World, view: ConfigView) -> None:
    world.helper("driver", skills=[Skill.DRIVING])
    world.submit()
    while not events(world, "referred_to_emergency"):
        world.tick()
    [whistle] = events(world, "whistle_blown")
    [referral] = events(world, "referred_to_emergency")
    plan = planner(world, view)
    reached = {d.endpoint for d in plan.plan(whistle).deliveries}
    assert reached == {C, f"{C}.grid_worker", f"{C}.property"}
    # The duty officer A planted would take the emergency first: B's grid worker does.
    [d] = plan.plan(referral).deliveries
    assert d.endpoint == f"{C}.grid_worker"


def test_bs_offers_never_reach_an_endpoint_a_owns(world: World, view: ConfigView) -> None:
    with_channels(world, "no-channel")  # would fall back to `default`
    with_channels(world, "relay-user", "webhook:relay-b2")
    with_channels(world, "shared-user", "webhook:b-relay")
    world.submit(helpers_needed=1)
    planned = [planner(world, view).plan(e) for e in world.offer_events()]
    sent = {d.recipient: d.endpoint for p in planned for d in p.deliveries}
    assert sent == {"shared-user": "b-relay"}
    unreached = {f.helper_id for p in planned for f in p.undeliverable}
    assert unreached == {"no-channel", "relay-user"}  # the core moves on at once


def test_an_endpoint_serves_its_own_community_and_district_wide_ones_serve_all() -> None:
    assert serves("default", None, B) and serves("default", A, A)
    assert not serves("default", A, B)
    assert serves(f"{C}.duty", B, B) and not serves(f"{C}.duty", A, B)
    assert serves(f"{C}.duty", f"{B}.duty", B)  # seeded from the environment
    assert not serves(f"community-{A}.duty", f"{B}.duty", B)
