"""Builders for the pure-core unit tests: a tiny community and a controllable clock."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from dispatcher.core import Decision, DispatchState, apply, decide
from schemas.commands import (
    AcceptOffer,
    Command,
    CommandBody,
    DeclineOffer,
    FireDeadline,
    SubmitRequest,
    UpsertHelper,
)
from schemas.event_batch import decode_record, encode_batch_records
from schemas.events import (
    Event,
    OfferSent,
    OffersSent,
    OffersStoodDown,
    OfferStoodDown,
    one_by_one,
    sent_offers,
    stand_downs,
)
from schemas.helpers import HelperProfile, TimeWindow, WeeklyWindow
from schemas.places import PlacePath
from schemas.plans import EscalationPlan, _plan
from schemas.records import RequestState
from schemas.requests import RequesterContact, RequestSpec
from schemas.vocab import Category, Gender, Ring, Role, Skill, Urgency
from tests.unit.exact_models import exact

COMMUNITY = "siming-xian"
# 12:00 UTC on Tuesday 2024-03-05 is 20:00 in Xiamen: the pregnant neighbour's evening.
T0 = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


# The ladder the core-rule tests were written against (the default plans before the
# simulator tuned them, issue 16). Tests of ladder mechanics pin it, so tuning the
# default plans (data) never changes what a mechanics test means.
REFERENCE_PLANS: dict[Urgency, EscalationPlan] = {
    Urgency.CRITICAL: _plan(
        Urgency.CRITICAL,
        [
            (Ring.BUILDING, 4, 30),
            (Ring.COMPOUND, 6, 30),
            (Ring.GRID, 8, 45),
            (Ring.COMMUNITY, 10, 60),
            (Ring.WHISTLE, 5, 120),
            (Ring.EMERGENCY, 0, 900),
        ],
        remote_wave=4,
        offer_ttl_s=600,
        lifetime_s=2 * 3600,
        respect_dnd=False,
    ),
    Urgency.URGENT: _plan(
        Urgency.URGENT,
        [
            (Ring.PAIRED, 2, 60),
            (Ring.BUILDING, 4, 120),
            (Ring.COMPOUND, 6, 180),
            (Ring.GRID, 8, 300),
            (Ring.COMMUNITY, 10, 600),
            (Ring.WHISTLE, 5, 1800),
        ],
        remote_wave=3,
        offer_ttl_s=1800,
        lifetime_s=6 * 3600,
    ),
    Urgency.NORMAL: _plan(
        Urgency.NORMAL,
        [
            (Ring.PAIRED, 2, 300),
            (Ring.BUILDING, 3, 600),
            (Ring.COMPOUND, 5, 900),
            (Ring.GRID, 6, 1800),
            (Ring.COMMUNITY, 8, 3600),
            (Ring.WHISTLE, 5, 4 * 3600),
        ],
        remote_wave=2,
        offer_ttl_s=2 * 3600,
        lifetime_s=24 * 3600,
    ),
    Urgency.LOW: _plan(
        Urgency.LOW,
        [
            (Ring.BUILDING, 3, 3600),
            (Ring.COMPOUND, 5, 2 * 3600),
            (Ring.COMMUNITY, 8, 6 * 3600),
            (Ring.WHISTLE, 3, 24 * 3600),
        ],
        remote_wave=2,
        offer_ttl_s=12 * 3600,
        lifetime_s=72 * 3600,
    ),
}


def place(
    building: str = "3",
    compound: str = "tuqiang",
    grid: str = "g1",
    household: str | None = None,
    community: str = COMMUNITY,
) -> PlacePath:
    return PlacePath(
        community_id=community,
        grid_id=grid,
        compound_id=compound,
        building_id=building,
        unit="2",
        floor=5,
        household_id=household,
        compound_name="图强小区",
        building_name=f"{building}号楼",
    )


def window(start: str, end: str) -> TimeWindow:
    return TimeWindow(start=time.fromisoformat(start), end=time.fromisoformat(end))


# The kinds a decision may write several to an event: both forms, and each as the single.
_ONE_BY_ONE: dict[str, tuple[tuple[type, ...], Callable[[Any], list[Any]]]] = {
    "offer_sent": ((OfferSent, OffersSent), sent_offers),
    "offer_stood_down": ((OfferStoodDown, OffersStoodDown), stand_downs),
}


class World:
    def __init__(self) -> None:
        self.state = DispatchState(plans=REFERENCE_PLANS)
        self.now = T0
        self.events: list[Event] = []
        self._ids = itertools.count()

    # --- building blocks ---------------------------------------------------------------

    def command(self, body: CommandBody, command_id: str | None = None) -> Command:
        return Command(
            command_id=command_id or f"cmd-{next(self._ids)}",
            community_id=COMMUNITY,
            issued_at=self.now,
            body=body,
        )

    def run(self, body: CommandBody | Command, command_id: str | None = None) -> Decision:
        command = body if isinstance(body, Command) else self.command(body, command_id)
        decision = decide(self.state, command, self.now)
        # Each event is what validating its wire form makes, type for type: the dispatch
        # agent hands its events to this worker's notify and record agents in place of
        # their bytes (streams/decoded_events.py). Checked for every decision of every test.
        for _, raw, handed in encode_batch_records(decision.events):
            exact(handed.events, decode_record(raw).events)
        apply(self.state, decision)
        self.events.extend(decision.events)
        return decision

    def helper(
        self,
        helper_id: str,
        *,
        building: str = "3",
        compound: str = "tuqiang",
        grid: str = "g1",
        skills: Iterable[Skill] = (),
        roles: Iterable[Role] = (Role.VOLUNTEER,),
        party: bool = False,
        gender: Gender | None = None,
        paired: Iterable[str] = (),
        phone: str | None = None,
        availability: Iterable[WeeklyWindow] = (),
        dnd: TimeWindow | None = None,
    ) -> HelperProfile:
        profile = HelperProfile(
            helper_id=helper_id,
            name=helper_id,
            phone=phone,
            place=place(building, compound, grid, household=f"hh-{helper_id}"),
            roles=tuple(roles),
            skills=tuple(skills),
            party_member=party,
            gender=gender,
            paired_household_ids=tuple(paired),
            availability=tuple(availability),
            do_not_disturb=dnd,
        )
        self.run(UpsertHelper(profile=profile))
        return profile

    def spec(self, request_id: str = "req-1", **kw: Any) -> RequestSpec:
        defaults: dict[str, Any] = {
            "request_id": request_id,
            "community_id": COMMUNITY,
            "place": place(household="hh-requester"),
            "category": Category.HOSPITAL_TRANSPORT,
            "urgency": Urgency.CRITICAL,
            "skills": (Skill.DRIVING,),
            "helpers_needed": 1,
            "text": "亲爱的邻居们，我身体不舒服，谁能帮忙送我去医院？",
            "contact": RequesterContact(
                name="林女士", phone="13800000000", address="3号楼2单元501"
            ),
        }
        defaults.update(kw)
        return RequestSpec(**defaults)

    def submit(self, request_id: str = "req-1", **kw: Any) -> Decision:
        return self.run(SubmitRequest(spec=self.spec(request_id, **kw)))

    # --- reading ------------------------------------------------------------------------

    def request(self, request_id: str = "req-1") -> RequestState:
        return self.state.requests[request_id]

    def of_type(self, kind: str, decision: Decision | None = None) -> list[Any]:
        """The bodies of `kind`; for "offer_sent" and "offer_stood_down", each offer sent or
        stood down, whether alone or several to an event (`OffersSent`, `OffersStoodDown`),
        as readers see them."""
        events = decision.events if decision is not None else self.events
        spread = _ONE_BY_ONE.get(kind)
        if spread is not None:
            forms, each = spread
            return [one for e in events if isinstance(e.body, forms) for one in each(e.body)]
        return [e.body for e in events if e.body.type == kind]

    def offer_events(self, decision: Decision | None = None) -> list[Event]:
        """Each offer as the single `offer_sent` event an older worker wrote for it, with the
        id a wave's push for it carries (`{event_id}:{i}`, push/deliveries.py)."""
        events = decision.events if decision is not None else self.events
        return [e for e in one_by_one(events) if e.body.type == "offer_sent"]

    def offered(self, decision: Decision | None = None) -> list[str]:
        return [b.helper_id for b in self.of_type("offer_sent", decision)]

    def offer_id(self, helper_id: str, request_id: str = "req-1") -> str:
        return next(o.offer_id for o in self.request(request_id).offers if o.helper_id == helper_id)

    def accept(self, helper_id: str, request_id: str = "req-1") -> Decision:
        return self.run(
            AcceptOffer(
                request_id=request_id,
                offer_id=self.offer_id(helper_id, request_id),
                helper_id=helper_id,
            )
        )

    def decline(self, helper_id: str, request_id: str = "req-1") -> Decision:
        return self.run(
            DeclineOffer(
                request_id=request_id,
                offer_id=self.offer_id(helper_id, request_id),
                helper_id=helper_id,
            )
        )

    def tick(self, request_id: str = "req-1") -> Decision:
        """Move the clock to the request's next deadline and fire it."""
        r = self.request(request_id)
        assert r.next_deadline is not None and r.deadline_step is not None
        self.now = max(self.now, r.next_deadline)
        return self.run(FireDeadline(request_id=request_id, step=r.deadline_step))

    def later(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def world() -> World:
    return World()


World.place = staticmethod(place)  # type: ignore[attr-defined]
World.window = staticmethod(window)  # type: ignore[attr-defined]


def search_context(household: int, now: datetime, scan_limit: int = 256) -> Any:
    """The search a critical medical request from `household` of the bench community makes
    (`dispatcher.bench.community`), as the index and the scan both see it."""
    from dispatcher.bench.community import home_of
    from dispatcher.core.context import SearchContext
    from schemas.plans import DEFAULT_PLANS

    h = home_of(household)
    spec = RequestSpec(
        request_id=f"r{household}",
        community_id=h.grid[0],
        place=PlacePath(
            community_id=h.grid[0],
            grid_id=h.grid[1],
            compound_id=h.compound[1],
            building_id=h.building[2],
            household_id=h.household,
        ),
        category=Category.MEDICAL,
        urgency=Urgency.CRITICAL,
    )
    plan = DEFAULT_PLANS[Urgency.CRITICAL].model_copy(update={"scan_limit": scan_limit})
    r = RequestState(spec=spec, plan=plan, created_at=now, ends_at=now, step_started_at=now)
    return SearchContext.for_request(r, now)


def simulated_week(monkeypatch: pytest.MonkeyPatch, seed: int) -> list[Decision]:
    """Every decision of the what-if simulator's demo week (`Scenario.demo`, default plans)."""
    from dispatcher.simulate import engine
    from dispatcher.simulate.behaviour import Behaviour
    from dispatcher.simulate.scenario import Scenario
    from dispatcher.simulate.world import local_midnight
    from schemas.plans import DEFAULT_PLANS

    decisions: list[Decision] = []
    real = engine.decide

    def recording(state: Any, command: Any, now: datetime) -> Decision:
        decision = real(state, command, now)
        decisions.append(decision)
        return decision

    monkeypatch.setattr(engine, "decide", recording)
    scenario = Scenario.demo(
        behaviour=Behaviour(), seed=seed, start=local_midnight("2026-09-01"), days=7
    )
    scenario.run("plans", DEFAULT_PLANS)
    return decisions
