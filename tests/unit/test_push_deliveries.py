"""Event → deliveries (dispatcher/push/deliveries.py), on events the real core produced:
who is reached where, and what each message may reveal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from dispatcher.push import EndpointConfig, EndpointKind, EndpointRegistry, PushKind
from dispatcher.push.deliveries import DeliveryPlanner, Planned, community_group_endpoint
from dispatcher.push.model import SAFE_DELIVERY_ID
from dispatcher.sealing import KeyRing, seal_profile, seal_spec
from schemas.commands import CancelRequest, ReportDeliveryFailure, SubmitRequest, UpsertHelper
from schemas.events import Event, stand_downs
from schemas.vocab import Party, Skill
from tests.unit.conftest import COMMUNITY, World

RELAY_SECRET = "whsec_c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3M="  # the key b"s" * 32

PHONE = "13912345678"  # the helper's, for group @-mentions
REQUESTER_PHONE = "13800000000"
BASE = "https://help.example"
KEYS = KeyRing("test-contact-key-" + "k" * 32, [], "test-helper-id-key-" + "h" * 32)


def fake_links(**claims: Any) -> dict[str, str]:
    """Deterministic stand-in for dispatcher.links.action_links (its tokens are random)."""
    assert isinstance(claims.pop("expires_at"), datetime)
    tail = "-".join(str(claims[k]) for k in ("request_id", "offer_id", "helper_id"))
    return {a: f"{BASE}/l/o/{a}-{tail}" for a in ("accept", "decline")}


def registry(*names_kinds: tuple[str, EndpointKind]) -> EndpointRegistry:
    def config(name: str, kind: EndpointKind) -> EndpointConfig:
        url = "https://robot.example/send"
        if kind is EndpointKind.WEBHOOK:
            return EndpointConfig(name=name, kind=kind, url=BASE + "/h", secret=RELAY_SECRET)
        return EndpointConfig(name=name, kind=kind, url=url, token="t0k3n")

    return EndpointRegistry(config(n, k) for n, k in names_kinds)


def planner(
    world: World, reg: EndpointRegistry, default: str | None = "default"
) -> DeliveryPlanner:
    return DeliveryPlanner(
        registry=reg,
        helper=world.state.helpers.get,
        request=world.state.requests.get,
        offer_links=fake_links,
        keys=KEYS,
        public_base_url=BASE + "/",
        default_endpoint=default,
    )


def with_channels(world: World, helper_id: str, *channels: str) -> None:
    world.helper(helper_id, skills=[Skill.DRIVING], phone=PHONE)
    profile = world.state.helpers[helper_id].profile.model_copy(update={"channels": channels})
    world.run(UpsertHelper(profile=profile))


def events(world: World, kind: str) -> list[Event]:
    return [e for e in world.events if e.body.type == kind]


ROBOTS = (
    ("default", EndpointKind.WEBHOOK),
    ("grid-3", EndpointKind.WECOM),
    (community_group_endpoint(COMMUNITY), EndpointKind.WECOM),
)


@pytest.fixture
def offered(world: World) -> World:
    with_channels(world, "private-driver")  # no channels: the default webhook
    with_channels(world, "group-driver", "wecom:grid-3")
    with_channels(world, "lost-driver", "wecom:nowhere")
    world.submit(helpers_needed=1)
    return world


def offer_to(world: World, helper_id: str) -> Event:
    return next(e for e in world.offer_events() if e.body.helper_id == helper_id)


def test_a_private_offer_carries_its_own_links_and_no_mention(offered: World) -> None:
    event = offer_to(offered, "private-driver")
    [d] = planner(offered, registry(*ROBOTS)).plan(event).deliveries
    assert (d.delivery_id, d.endpoint, d.kind, d.recipient) == (
        event.event_id,
        "default",
        PushKind.OFFER,
        "private-driver",
    )
    assert d.mentions == ()
    assert d.data["accept_url"] in d.message.text and d.data["decline_url"] in d.message.text
    assert d.batch_key == f"req-1:{event.body.step}"
    assert REQUESTER_PHONE not in d.message.text and "501" not in d.message.text


def test_a_group_offer_mentions_the_helper_and_links_only_the_answer_page(offered: World) -> None:
    event = offer_to(offered, "group-driver")
    [d] = planner(offered, registry(*ROBOTS)).plan(event).deliveries
    assert d.endpoint == "grid-3"
    assert [m.mobile for m in d.mentions] == [PHONE]
    assert "/l/o/" not in d.message.text  # every group member would see a personal link
    assert f"{BASE}/l/me" in d.message.text
    assert "accept_url" not in d.data and "decline_url" not in d.data
    assert PHONE not in d.message.text and REQUESTER_PHONE not in d.message.text


def test_a_group_offer_mentions_by_platform_user_id_too(world: World) -> None:
    """DingTalk and Feishu @-mention by the helper's platform user id (a DingTalk robot
    given a mobile would need the phone in the group's text): the mention carries it."""
    with_channels(world, "group-driver", "wecom:grid-3")
    profile = world.state.helpers["group-driver"].profile
    sealed = seal_profile(KEYS, profile.model_copy(update={"platform_user_id": "ding-u-7"}))
    world.run(UpsertHelper(profile=sealed))
    world.run(SubmitRequest(spec=world.spec()))
    [d] = planner(world, registry(*ROBOTS)).plan(offer_to(world, "group-driver")).deliveries
    assert [(m.mobile, m.open_id) for m in d.mentions] == [(PHONE, "ding-u-7")]
    assert PHONE not in d.message.text


def test_an_unreachable_helper_is_reported_back_at_once(offered: World) -> None:
    event = offer_to(offered, "lost-driver")
    planned = planner(offered, registry(*ROBOTS)).plan(event)
    assert planned.deliveries == []
    assert planned.undeliverable == [
        ReportDeliveryFailure(
            request_id="req-1",
            offer_id=event.body.offer_id,
            helper_id="lost-driver",
            reason="no usable channel",
        )
    ]
    # Without a default endpoint, a helper without channels is unreachable too.
    private = offer_to(offered, "private-driver")
    assert planner(offered, registry(*ROBOTS), default=None).plan(private).undeliverable


def test_the_requesters_contact_goes_only_to_the_accepting_helpers_private_channel(
    offered: World,
) -> None:
    offered.accept("private-driver")
    [assigned] = events(offered, "helper_assigned")
    [d] = planner(offered, registry(*ROBOTS)).plan(assigned).deliveries
    assert (d.endpoint, d.kind, d.mentions) == ("default", PushKind.ASSIGNMENT, ())
    assert REQUESTER_PHONE in d.message.text and "3号楼2单元501" in d.message.text


def test_sealed_contacts_and_phones_are_opened_for_the_push_only(world: World) -> None:
    """As the API sends them (issue 12.7): the event and the helper's state hold boxes; the
    planner opens them for the assignment and the group @-mention. Under a retired key the
    assignment still goes out, without the contact, and says why (no personal data)."""
    with_channels(world, "private-driver")
    with_channels(world, "group-driver", "wecom:grid-3")
    for hid in ("private-driver", "group-driver"):
        world.run(UpsertHelper(profile=seal_profile(KEYS, world.state.helpers[hid].profile)))
    world.run(SubmitRequest(spec=seal_spec(KEYS, world.spec())))
    group_offer = offer_to(world, "group-driver")
    assert PHONE not in world.state.helpers["group-driver"].model_dump_json()
    [mention] = planner(world, registry(*ROBOTS)).plan(group_offer).deliveries[0].mentions
    assert mention.mobile == PHONE
    world.accept("private-driver")
    [assigned] = events(world, "helper_assigned")
    assert REQUESTER_PHONE not in assigned.model_dump_json()
    [d] = planner(world, registry(*ROBOTS)).plan(assigned).deliveries
    assert REQUESTER_PHONE in d.message.text and "3号楼2单元501" in d.message.text
    retired = planner(world, registry(*ROBOTS))
    retired.keys = KeyRing("the-next-contact-key-" + "n" * 32, [], "test-helper-id-key-" + "h" * 32)
    planned = retired.plan(assigned)
    [d] = planned.deliveries
    assert REQUESTER_PHONE not in d.message.text and "（未留电话）" in d.message.text
    assert planned.warnings and "not configured" in planned.warnings[0]


def test_an_assignment_is_never_sent_to_a_group_robot(world: World) -> None:
    with_channels(world, "group-driver", "wecom:grid-3")
    world.submit()
    world.accept("group-driver")
    [assigned] = events(world, "helper_assigned")
    planned = planner(world, registry(*ROBOTS)).plan(assigned)
    assert planned.deliveries == [] and planned.undeliverable == []
    assert planned.warnings == [
        f"assignment {assigned.body.offer_id}: helper has no private channel"
    ]
    assert all(REQUESTER_PHONE not in w for w in planned.warnings)


def test_stand_downs_say_covered_or_cancelled(offered: World) -> None:
    offered.accept("private-driver")
    [covered] = [e for e in events(offered, "offers_stood_down") if e.body.reason == "covered"][:1]
    planned = planner(offered, registry(*ROBOTS)).plan(covered).deliveries
    assert planned and {d.kind for d in planned} == {PushKind.STAND_DOWN}
    offered.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    cancelled = [e for e in events(offered, "offers_stood_down") if e.body.reason == "cancelled"]
    assert cancelled
    kinds = {
        d.kind for e in cancelled for d in planner(offered, registry(*ROBOTS)).plan(e).deliveries
    }
    assert kinds == {PushKind.CANCELLATION}


def test_a_wave_is_one_event_and_a_push_each_as_its_single_events_were(offered: World) -> None:
    waves = events(offered, "offers_sent")
    assert waves and sum(len(w.body.offers) for w in waves) > 1
    plan = planner(offered, registry(*ROBOTS)).plan
    planned = [plan(w) for w in waves]
    singles = [plan(e) for e in offered.offer_events()]  # what an older worker's caused
    assert [d for p in planned for d in p.deliveries] == [d for p in singles for d in p.deliveries]
    assert [u for p in planned for u in p.undeliverable] == [
        u for p in singles for u in p.undeliverable
    ]
    assert any(p.undeliverable for p in planned)  # the helper nobody can reach is reported
    ids = [d.delivery_id for p in planned for d in p.deliveries]
    assert len(set(ids)) == len(ids) and all(SAFE_DELIVERY_ID.fullmatch(i) for i in ids)


def test_several_stand_downs_in_one_event_are_a_push_each(offered: World) -> None:
    offered.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    [event] = events(offered, "offers_stood_down")
    assert len(event.body.offers) > 1
    planned = planner(offered, registry(*ROBOTS)).plan(event).deliveries
    # One push per helper reachable, each with an id of its own derived from the event's.
    by_helper = {d.recipient: d for d in planned}
    assert len(by_helper) == len(planned)
    assert set(by_helper) <= {o.helper_id for o in event.body.offers}
    ids = [d.delivery_id for d in planned]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith(event.event_id + ":") and SAFE_DELIVERY_ID.fullmatch(i) for i in ids)
    # The same pushes as the single events an older worker wrote, one per offer.
    singles = [
        event.model_copy(update={"event_id": f"{event.event_id}:{i}", "body": one})
        for i, one in enumerate(stand_downs(event.body))
    ]
    one_by_one = [
        d for e in singles for d in planner(offered, registry(*ROBOTS)).plan(e).deliveries
    ]
    assert one_by_one == planned


def test_the_whistle_goes_to_the_community_group_only_when_it_has_a_robot(world: World) -> None:
    world.submit()
    while not events(world, "whistle_blown"):
        world.tick()
    [whistle] = events(world, "whistle_blown")
    [d] = planner(world, registry(*ROBOTS)).plan(whistle).deliveries
    assert (d.endpoint, d.kind) == (community_group_endpoint(COMMUNITY), PushKind.WHISTLE)
    assert f"{BASE}/dashboard" in d.message.text
    assert REQUESTER_PHONE not in d.message.text
    # No robot and nobody on the list: nothing pushed, and a call of none, which the notify
    # agent reports at once (session 41: before, no call, and the ladder waited the rung).
    nobody = planner(world, registry(ROBOTS[0])).plan(whistle)
    assert nobody.deliveries == [] and nobody.call is not None
    assert (nobody.call.delivery_ids, nobody.call.report.recipients) == (frozenset(), 0)


def test_events_that_notify_nobody_plan_nothing(offered: World) -> None:
    quiet = [e for e in offered.events if e.body.type in {"request_opened", "helper_updated"}]
    assert quiet
    assert all(planner(offered, registry(*ROBOTS)).plan(e) == Planned() for e in quiet)


def test_the_assignment_links_the_helpers_own_page_with_its_buttons(offered: World) -> None:
    offered.accept("private-driver")
    [assigned] = events(offered, "helper_assigned")
    [d] = planner(offered, registry(*ROBOTS)).plan(assigned).deliveries
    page = f"{BASE}/l/o/accept-req-1-{assigned.body.offer_id}-private-driver"
    assert f"我在路上 / 去不了了 / 已完成，请点：{page}" in d.message.text
    assert "请尽快前往" in d.message.text


def test_a_remote_helper_is_asked_to_call_never_to_come(world: World) -> None:
    world.helper("nurse", building="12", compound="other", grid="g2", skills=[Skill.NURSE])
    world.submit(skills=(Skill.DRIVING, Skill.NURSE))
    world.accept("nurse")
    [assigned] = events(world, "helper_assigned")
    assert assigned.body.remote
    [d] = planner(world, registry(*ROBOTS)).plan(assigned).deliveries
    assert "请尽快致电求助人，电话指导，无需前往" in d.message.text
    assert "前往。" not in d.message.text.replace("无需前往。", "")
    assert d.message.title == "接单成功，请尽快致电"
    assert "3号楼2单元501" not in d.message.text  # no address: not needed to guide by phone
    assert REQUESTER_PHONE in d.message.text


def test_the_whistle_also_reaches_the_configured_recipients_of_its_area(world: World) -> None:
    """Department contacts (live configuration: ConfigView.whistle_recipients) whose area
    covers the request's place get the whistle too, each with its own delivery id."""
    from schemas.config import WhistleRecipient

    world.submit()
    while not events(world, "whistle_blown"):
        world.tick()
    [whistle] = events(world, "whistle_blown")
    place = world.state.requests[whistle.request_id or ""].spec.place
    contacts = (
        WhistleRecipient(
            role="grid_worker", name="网格员", endpoint="grid-3", grid_id=place.grid_id
        ),
        WhistleRecipient(role="property", name="物业", endpoint="grid-3", compound_id="other"),
        WhistleRecipient(role="department", name="派出所", endpoint="nowhere"),  # unknown: skipped
    )
    p = planner(world, registry(*ROBOTS))
    p.whistle_recipients = lambda community_id: contacts if community_id == COMMUNITY else ()
    ds = p.plan(whistle).deliveries
    assert [(d.endpoint, d.kind) for d in ds] == [
        (community_group_endpoint(COMMUNITY), PushKind.WHISTLE),
        ("grid-3", PushKind.WHISTLE),
    ]
    assert len({d.delivery_id for d in ds}) == 2


def test_a_helpers_sealed_platform_login_is_opened_once_and_a_new_box_is_opened_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner keeps what each detail box held (issue 18: an AES-GCM open per offer);
    a helper re-imported with another platform account is a new box, opened anew."""
    import dispatcher.push.deliveries as deliveries

    opened: list[str] = []

    def counting(ring: KeyRing, profile: Any) -> Any:
        opened.append(profile.helper_id)
        return real(ring, profile)

    real = deliveries.helper_detail
    monkeypatch.setattr(deliveries, "helper_detail", counting)

    def login(platform_user_id: str) -> None:
        profile = world.helper("driver", skills=[Skill.DRIVING]).model_copy(
            update={"platform_user_id": platform_user_id}
        )
        world.run(UpsertHelper(profile=seal_profile(KEYS, profile)))
        assert world.state.helpers["driver"].profile.sealed_detail is not None

    claims: list[str | None] = []

    def links(**kw: Any) -> dict[str, str]:
        claims.append(kw["platform_user_id"])
        return fake_links(**kw)

    plan = planner(world, registry(*ROBOTS))
    plan.offer_links = links
    login("zhangjg")
    world.submit("req-1", helpers_needed=1)
    first = offer_to(world, "driver")
    plan.plan(first)
    plan.plan(first)
    assert claims == ["zhangjg", "zhangjg"] and opened == ["driver"]

    world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))
    login("lisi")
    world.submit("req-2", helpers_needed=1)
    second = next(e for e in world.offer_events() if e.request_id == "req-2")
    plan.plan(second)
    assert claims[-1] == "lisi" and opened == ["driver", "driver"]
