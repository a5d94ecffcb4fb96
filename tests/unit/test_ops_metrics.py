"""EventMetrics fed by the real pure core: counters and histograms move as the story goes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dispatcher.ops.event_metrics import EventMetrics
from dispatcher.ops.metric_defs import DispatchMetrics
from dispatcher.ops.metrics import channel_kind
from schemas.events import OfferSent, OffersSent, WaveOffer, make_event
from schemas.vocab import Category, Ring, Skill, Urgency
from tests.unit.conftest import COMMUNITY, T0, World


def fresh() -> tuple[EventMetrics, CollectorRegistry]:
    registry = CollectorRegistry()
    return EventMetrics(DispatchMetrics.create(registry)), registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_lifecycle_counts_offers_answers_and_durations(world: World) -> None:
    em, reg = fresh()
    for hid in ("d1", "d2"):
        world.helper(hid, skills=[Skill.DRIVING])
    world.submit()
    world.later(12)
    world.decline("d1")
    world.later(30)
    world.accept("d2")
    em.observe_all(world.events)

    crit = {"urgency": "critical"}
    assert value(reg, "dispatch_requests_opened_total", category="hospital_transport", **crit) == 1
    assert value(reg, "dispatch_offers_sent_total", ring="building", **crit) == 2
    assert value(reg, "dispatch_offer_answers_total", ring="building", answer="declined") == 1
    assert value(reg, "dispatch_offer_answers_total", ring="building", answer="accepted") == 1
    assert (
        value(reg, "dispatch_requests_answered_total", category="hospital_transport", **crit) == 1
    )
    assert value(reg, "dispatch_emergency_calls_advised_total", number="120") == 1
    # Offers go out in the same decision as the opening: 0 s; the accept came 42 s later.
    assert value(reg, "dispatch_time_to_first_offer_seconds_count", **crit) == 1
    assert value(reg, "dispatch_time_to_first_offer_seconds_sum", **crit) == 0
    assert value(reg, "dispatch_time_to_first_accept_seconds_sum", **crit) == 42
    assert value(reg, "dispatch_time_to_first_accept_seconds_bucket", le="30.0", **crit) == 0
    assert value(reg, "dispatch_time_to_first_accept_seconds_bucket", le="45.0", **crit) == 1

    # Replayed events (at-least-once) change nothing.
    em.observe_all(world.events)
    assert value(reg, "dispatch_offers_sent_total", ring="building", **crit) == 2


def test_a_wave_of_several_rings_counts_each_offer_on_its_ring() -> None:
    """A wave is counted per ring (one labelled child per ring, not per offer)."""
    em, reg = fresh()
    rings = (Ring.BUILDING, Ring.COMMUNITY, Ring.BUILDING, Ring.COMPOUND, Ring.BUILDING)
    offers = tuple(
        WaveOffer(offer_id=f"o{i}", helper_id=f"h{i}", ring=r, skills=(), remote=False)
        for i, r in enumerate(rings)
    )
    body = OffersSent(
        step=0,
        expires_at=T0,
        category=Category.HOSPITAL_TRANSPORT,
        urgency=Urgency.URGENT,
        building_label="3号楼",
        helpers_needed=1,
        offers=offers,
    )
    event = make_event(
        body, command_id="c1", index=0, community_id=COMMUNITY, request_id="r1", occurred_at=T0
    )
    em.observe(event)
    em.observe(event)  # a replay changes nothing

    urgent = {"urgency": "urgent"}
    assert value(reg, "dispatch_offers_sent_total", ring="building", **urgent) == 3
    assert value(reg, "dispatch_offers_sent_total", ring="compound", **urgent) == 1
    assert value(reg, "dispatch_offers_sent_total", ring="community", **urgent) == 1
    assert value(reg, "dispatch_offers_sent_total", ring="grid", **urgent) == 0


def test_an_older_workers_single_offer_event_counts_once_on_its_ring() -> None:
    """An `offer_sent` (one event per offer, before the waves) still counts, per its ring."""
    em, reg = fresh()
    for i, ring in enumerate((Ring.GRID, Ring.GRID)):
        body = OfferSent(
            offer_id=f"o{i}",
            helper_id=f"h{i}",
            ring=ring,
            step=0,
            expires_at=T0,
            category=Category.OTHER,
            urgency=Urgency.NORMAL,
            building_label="3号楼",
            helpers_needed=1,
            skills=(),
            remote=False,
        )
        em.observe(
            make_event(
                body,
                command_id="c1",
                index=i,
                community_id=COMMUNITY,
                request_id="r1",
                occurred_at=T0,
            )
        )
    assert value(reg, "dispatch_offers_sent_total", ring="grid", urgency="normal") == 2


def test_unanswered_request_escalates_whistles_and_expires(world: World) -> None:
    em, reg = fresh()
    world.helper("d1", skills=[Skill.DRIVING])
    world.submit()
    for _ in range(20):
        request = world.request()
        if request.terminal:
            break
        world.tick()
    em.observe_all(world.events)
    escalations = sum(
        value(reg, "dispatch_escalations_total", ring=ring, urgency="critical")
        for ring in ("compound", "grid", "community", "whistle", "emergency")
    )
    assert escalations >= 1
    assert value(reg, "dispatch_whistles_total", urgency="critical") == len(
        world.of_type("whistle_blown")
    )
    closed = world.of_type("request_expired") or world.of_type("request_referred")
    assert closed, "a critical request with nobody answering ends within its plan"
    outcome = "expired" if world.of_type("request_expired") else "referred"
    assert value(reg, "dispatch_requests_closed_total", outcome=outcome, urgency="critical") == 1
    assert em.remembered_requests == 0  # closed requests are forgotten


def test_memory_is_bounded(world: World) -> None:
    em = EventMetrics(DispatchMetrics.create(CollectorRegistry()), max_requests=3, max_seen=10)
    world.helper("d1", skills=[Skill.DRIVING])
    for i in range(8):
        world.submit(f"req-{i}")
    em.observe_all(world.events)
    assert em.remembered_requests == 3


def test_channel_labels_are_kinds_not_ids() -> None:
    assert channel_kind("wecom:grid-3") == "wecom"
    assert channel_kind("webhook:default") == "webhook"
    assert channel_kind("13800000000") == "other"


def test_a_delivered_push_counts_on_its_channel_kinds_series() -> None:
    """observe_delivery keeps each channel's labelled series (looked up once): every call,
    the first and the ones after, counts on the process registry's series of that kind."""
    from dispatcher.ops.metrics import REGISTRY, observe_delivery

    def count(kind: str) -> tuple[float, float]:
        delivered = REGISTRY.get_sample_value(
            "dispatch_notifications_delivered_total", {"channel": kind}
        )
        timed = REGISTRY.get_sample_value(
            "dispatch_notification_delivery_seconds_count", {"channel": kind}
        )
        return delivered or 0.0, timed or 0.0

    before = {k: count(k) for k in ("wecom", "webhook", "other")}
    for _ in range(2):
        observe_delivery("wecom:grid-3", seconds=0.2)
        observe_delivery("webhook")
        observe_delivery("13800000000", seconds=0.1)
    after = {k: count(k) for k in before}
    assert after["wecom"] == (before["wecom"][0] + 2, before["wecom"][1] + 2)
    assert after["webhook"] == (before["webhook"][0] + 2, before["webhook"][1])
    assert after["other"] == (before["other"][0] + 2, before["other"][1] + 2)
