"""One in-person errand at a time (dispatcher/core/presence.py): a neighbour on the way to a
fallen man is not offered a second "someone collapsed", and an older offer they press accept
on is refused - the slot stays for others. Every path that ends the assignment frees them
again; phone needs stay theirs meanwhile; a restart and a replay keep the hold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.bench.community import build_state
from dispatcher.core.decide import decide
from dispatcher.core.entry import HelperEntry
from dispatcher.core.presence import HOLD_CAP
from dispatcher.core.scan import scan_search
from dispatcher.core.state import DispatchState, apply
from dispatcher.core.trusted import updated
from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    CompleteAssignment,
    DeactivateHelper,
    ReferRequest,
    ResolveRequest,
    UpsertHelper,
    WithdrawHelper,
)
from schemas.records import HelperState, OfferStatus, PresenceHold, RequestStatus
from schemas.requests import SkillNeed
from schemas.vocab import Category, Party, ReferralTarget, Ring, Skill, Urgency
from tests.unit.conftest import REFERENCE_PLANS, World, search_context
from tests.unit.test_core_party_teams import person

SCAN_NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def _fall(world: World, request_id: str, **kw: Any) -> None:
    """A critical fall needing one first-aider in person, in the helpers' building."""
    world.submit(
        request_id,
        category=Category.FALL,
        urgency=Urgency.CRITICAL,
        skills=(Skill.FIRST_AID,),
        helpers_needed=1,
        **kw,
    )


def _holding(world: World) -> None:
    """First-aider `a` accepted req-1 (in person); `b` is as near and free."""
    world.helper("a", skills=[Skill.FIRST_AID, Skill.NURSE])
    world.helper("b", skills=[Skill.FIRST_AID])
    _fall(world, "req-1")
    assert {"a", "b"} <= set(world.offered())
    world.accept("a")
    assert world.request("req-1").status is RequestStatus.FILLED


def _offered_on(world: World, request_id: str) -> set[str]:
    return {o.helper_id for o in world.request(request_id).offers}


def test_a_helper_holding_an_in_person_request_is_not_offered_a_second(world):
    _holding(world)
    world.later(30)
    _fall(world, "req-2")
    assert _offered_on(world, "req-2") == {"b"}


def test_an_older_offer_accepted_while_holding_one_is_refused_and_the_slot_stays_open(world):
    world.helper("a", skills=[Skill.FIRST_AID])
    world.helper("b", skills=[Skill.FIRST_AID])
    _fall(world, "req-1")
    _fall(world, "req-2")  # both sent before either was taken
    assert "a" in _offered_on(world, "req-2")
    world.accept("a")
    out = world.accept("a", "req-2")
    [refused] = world.of_type("command_rejected", out)
    assert (refused.reason, refused.helper_id) == ("helping_elsewhere", "a")
    assert world.of_type("helper_assigned", out) == []
    r2 = world.request("req-2")
    assert r2.status is RequestStatus.OPEN and r2.assignments == ()
    # Closed for them when they took req-1 (the ladder does not wait on someone who cannot
    # come: test_hoarding_standdown_s40.py), uncounted.
    [offer] = [o for o in r2.offers if o.helper_id == "a"]
    assert offer.status is OfferStatus.STOOD_DOWN
    assert world.state.helpers["a"].load.declined_total == 0
    # b, offered too, still takes the slot.
    taken = world.accept("b", "req-2")
    assert [x.helper_id for x in world.of_type("helper_assigned", taken)] == ["b"]


def test_a_phone_need_is_still_offered_and_taken_while_holding_one(world):
    _holding(world)
    by_phone = (SkillNeed(skills=(Skill.NURSE,), count=1),)
    assert by_phone[0].remote
    world.submit("req-2", category=Category.MEDICAL, needs=by_phone, skills=(Skill.NURSE,))
    assert "a" in _offered_on(world, "req-2")
    out = world.accept("a", "req-2")
    assert [x.helper_id for x in world.of_type("helper_assigned", out)] == ["a"]


def _complete(world: World) -> None:
    world.run(CompleteAssignment(request_id="req-1", helper_id="a"))


def _withdraw(world: World) -> None:
    world.run(WithdrawHelper(request_id="req-1", helper_id="a"))


def _no_show(world: World) -> None:
    world.run(WithdrawHelper(request_id="req-1", helper_id="a", no_show=True))


def _cancel(world: World) -> None:
    world.run(CancelRequest(request_id="req-1", by=Party.REQUESTER))


def _resolve(world: World) -> None:
    world.run(ResolveRequest(request_id="req-1", by=Party.STAFF))


def _refer_to_property(world: World) -> None:
    world.run(ReferRequest(request_id="req-1", to=ReferralTarget.PROPERTY))


def _lifetime(world: World) -> None:
    while not world.request("req-1").terminal:
        world.tick("req-1")


def _kept_then_done(world: World) -> None:
    world.run(ReferRequest(request_id="req-1", to=ReferralTarget.AMBULANCE))
    _fall(world, "req-x")  # still with the fallen man until the ambulance comes
    assert "a" not in _offered_on(world, "req-x")
    _complete(world)


def _kept_past_its_end(world: World) -> None:
    world.run(ReferRequest(request_id="req-1", to=ReferralTarget.AMBULANCE))
    world.now = world.request("req-1").ends_at  # no timer closes it: the hold lapses


CLOSINGS: dict[str, Callable[[World], None]] = {
    "complete": _complete,
    "withdraw": _withdraw,
    "no_show_by_staff": _no_show,
    "cancelled": _cancel,
    "resolved": _resolve,
    "referred_elsewhere": _refer_to_property,
    "ended_at_lifetime": _lifetime,
    "kept_at_120_then_done": _kept_then_done,
    "kept_at_120_past_its_end": _kept_past_its_end,
}


@pytest.mark.parametrize("closing", CLOSINGS)
def test_after_each_closing_the_helper_is_offered_again(world, closing):
    _holding(world)
    _fall(world, "req-0")
    assert "a" not in _offered_on(world, "req-0")  # held until the closing
    CLOSINGS[closing](world)
    world.later(1)
    _fall(world, "req-2")
    assert "a" in _offered_on(world, "req-2")
    out = world.accept("a", "req-2")
    assert [x.helper_id for x in world.of_type("helper_assigned", out)] == ["a"]


def test_deactivated_and_back_on_the_roster_still_holds_it(world):
    """Deactivation keeps assignments (whoever is on the way finishes): so does the hold."""
    _holding(world)
    profile = world.state.helpers["a"].profile
    world.run(DeactivateHelper(helper_id="a"))
    world.run(UpsertHelper(profile=profile))
    assert world.state.helpers["a"].profile.active
    _fall(world, "req-2")
    assert "a" not in _offered_on(world, "req-2")


def _team_and_a_carry(world: World) -> None:
    """A team (leader, m-near, m-far) offered a carrying for three (the leader's offer)."""
    lead = {"teams": ("帮帮团",), "leads_teams": ("帮帮团",)}
    person(world, "leader", **lead, skills=[Skill.CARRYING, Skill.FIRST_AID])
    person(world, "m-near", teams=("帮帮团",), skills=[Skill.CARRYING])
    person(world, "m-far", building="7", compound="far", grid="g9", teams=("帮帮团",))
    world.submit("req-9", category=Category.CARRYING, skills=(Skill.CARRYING,), helpers_needed=3)


def _team_accept(world: World, *names: str) -> Any:
    return world.run(
        AcceptOffer(
            request_id="req-9",
            offer_id=world.offer_id("leader", "req-9"),
            helper_id="leader",
            members=1 + len(names),
            member_ids=names,
        )
    )


def test_a_named_team_member_holding_one_is_unavailable(world):
    _team_and_a_carry(world)
    world.helper("b", skills=[Skill.FIRST_AID])
    person(world, "m-aid", teams=("帮帮团",), skills=[Skill.FIRST_AID])
    _fall(world, "req-1")
    world.accept("m-aid")
    out = _team_accept(world, "m-far", "m-aid")
    refused = [(e.reason, e.detail) for e in world.of_type("command_rejected", out)]
    assert refused == [("member_unavailable", "m-aid")]
    assert world.request("req-9").assignments == ()


def test_a_team_leader_holding_one_is_refused_and_offered_no_team(world):
    _team_and_a_carry(world)
    world.helper("b", skills=[Skill.FIRST_AID])
    person(world, "leader-2", teams=("救援队",), leads_teams=("救援队",), skills=[Skill.FIRST_AID])
    _fall(world, "req-1")
    world.accept("leader")  # the leader's own offer on the fall: in person
    out = _team_accept(world, "m-far")
    assert [e.reason for e in world.of_type("command_rejected", out)] == ["helping_elsewhere"]
    # A new carrying for three calls a team: not the busy leader's.
    world.submit("req-10", category=Category.CARRYING, skills=(Skill.CARRYING,), helpers_needed=3)
    assert "leader" not in _offered_on(world, "req-10")


def _rebuilt(world: World, strip: bool = False) -> DispatchState:
    helpers = list(world.state.helpers.values())
    if strip:  # records from before the holds were kept
        helpers = [updated(h, presence=()) for h in helpers]
    return DispatchState.rebuild(helpers, list(world.state.requests.live()), REFERENCE_PLANS)


@pytest.mark.parametrize("strip", [False, True], ids=["stored", "backfilled"])
def test_the_hold_survives_a_restart(world, strip):
    _holding(world)
    world.state = _rebuilt(world, strip)
    _fall(world, "req-2")
    assert _offered_on(world, "req-2") == {"b"}


def test_a_replay_decides_the_same(world):
    _holding(world)
    _fall(world, "req-2")
    command = world.command(CompleteAssignment(request_id="req-1", helper_id="a"))
    twin = _rebuilt(world)
    first = decide(world.state, command, world.now)
    again = decide(twin, command, world.now)
    assert first == again
    assert first.helpers["a"].presence == ()
    apply(world.state, first)
    assert not world.state.helpers["a"].presence


# --- A hold blocks only a request no more urgent than its own (presence.rank_of) ---------


def _chore(world: World, request_id: str, urgency: Urgency = Urgency.LOW, **kw: Any) -> None:
    """A carrying errand in person, in the helpers' building (low: it lives 72 h)."""
    world.submit(
        request_id,
        category=Category.CARRYING,
        urgency=urgency,
        skills=(Skill.CARRYING,),
        helpers_needed=1,
        text="明天帮我搬一下沙发",
        **kw,
    )


def _first_aider_on_a_chore(world: World) -> None:
    """`a`, the building's first-aider, took a low chore; `b` is as near and free."""
    world.helper("a", skills=[Skill.FIRST_AID, Skill.CARRYING])
    world.helper("b", skills=[Skill.FIRST_AID, Skill.CARRYING])
    _chore(world, "chore")
    world.accept("a", "chore")
    assert world.state.helpers["a"].presence


def test_review_a_chore_does_not_keep_its_helper_from_someone_who_collapsed(world):
    """Review r1: the first-aider carrying groceries is offered the fall an hour later,
    and takes it."""
    _first_aider_on_a_chore(world)
    world.later(3600)
    _fall(world, "fall", text="我爸摔倒了，昏迷不醒")
    assert world.request("fall").spec.is_life_threatening()
    assert "a" in _offered_on(world, "fall")
    out = world.accept("a", "fall")
    assert [x.helper_id for x in world.of_type("helper_assigned", out)] == ["a"]


def test_review_an_older_critical_offer_is_taken_while_on_a_chore(world):
    """Review r2: the fall's offer came first, a chore was taken meanwhile: the accept of
    the fall is not refused, and taking the chore did not stand the fall's offer down."""
    world.helper("a", skills=[Skill.FIRST_AID, Skill.CARRYING])
    _fall(world, "fall", text="我爸摔倒了，昏迷不醒")
    _chore(world, "chore")
    world.accept("a", "chore")
    assert _offer(world, "a", "fall").status is OfferStatus.OPEN
    out = world.accept("a", "fall")
    assert world.of_type("command_rejected", out) == []
    assert [x.helper_id for x in world.of_type("helper_assigned", out)] == ["a"]


def _offer(world: World, helper_id: str, request_id: str) -> Any:
    return next(o for o in world.request(request_id).offers if o.helper_id == helper_id)


# (held, new, blocked): a hold blocks its own rank and below; "said" is a low request the
# requester said is life-threatening (the emergency number advised), which ranks critical.
RANK_CASES = [
    (Urgency.LOW, Urgency.LOW, True),
    (Urgency.LOW, Urgency.NORMAL, False),
    (Urgency.LOW, Urgency.URGENT, False),
    (Urgency.NORMAL, Urgency.NORMAL, True),
    (Urgency.NORMAL, Urgency.URGENT, False),
    (Urgency.URGENT, Urgency.NORMAL, True),
    (Urgency.URGENT, Urgency.URGENT, True),
    (Urgency.URGENT, "said", False),
    (Urgency.CRITICAL, Urgency.LOW, True),
    (Urgency.CRITICAL, "said", True),
]


@pytest.mark.parametrize(("held", "new", "blocked"), RANK_CASES)
def test_a_hold_blocks_only_requests_no_more_urgent(world, held, new, blocked):
    world.helper("a", skills=[Skill.CARRYING])
    world.helper("b", skills=[Skill.CARRYING])
    _chore(world, "held", urgency=held)
    world.accept("a", "held")
    world.later(60)
    if new == "said":
        _chore(world, "new", urgency=Urgency.LOW, life_threatening=True)
        assert world.request("new").spec.is_life_threatening()
    else:
        _chore(world, "new", urgency=new)
    assert ("a" not in _offered_on(world, "new")) is blocked


def test_a_critical_errand_still_blocks_another_critical_one(world):
    _holding(world)  # a on a critical fall
    world.later(60)
    _fall(world, "req-2", text="我爸摔倒了，昏迷不醒")
    assert "a" not in _offered_on(world, "req-2")


def test_the_hold_lapses_at_its_cap_after_the_accept_not_at_the_request_end(world):
    """Someone who never presses 已完成 on a 72 h chore is kept from other chores for
    HOLD_CAP, not for days."""
    world.helper("a", skills=[Skill.CARRYING])
    world.helper("b", skills=[Skill.CARRYING])
    _chore(world, "chore")
    world.accept("a", "chore")
    accepted_at = world.now
    chore = world.request("chore")
    assert chore.ends_at - accepted_at > HOLD_CAP  # the request lives on past the cap
    world.now = accepted_at + HOLD_CAP - timedelta(seconds=1)
    _chore(world, "before")
    assert "a" not in _offered_on(world, "before")
    world.now = accepted_at + HOLD_CAP
    _chore(world, "after")
    assert "a" in _offered_on(world, "after")
    assert world.request("chore").status is RequestStatus.FILLED  # still theirs


def test_an_old_hold_without_a_rank_never_blocks_a_critical_request(world):
    """A hold stored before ranks were kept reads as the least urgent: it still keeps the
    helper from a low chore, never from someone who collapsed."""
    _holding(world)  # a on a critical fall: its hold as stored before, without the rank
    [hold] = world.state.helpers["a"].presence
    stored = hold.model_dump(mode="json")
    stored.pop("rank", None)
    old = PresenceHold.model_validate(stored)
    assert old.rank == 0
    helper = updated(world.state.helpers["a"], presence=(old,))
    world.state.helpers["a"] = helper
    world.state.index.upsert(HelperEntry.from_state(helper))
    _fall(world, "req-2")
    assert "a" in _offered_on(world, "req-2")
    _chore(world, "chore")
    assert "a" not in _offered_on(world, "chore")


def test_a_restart_gives_an_old_hold_its_rank_and_cap(world):
    """Rebuilt from the request's record: the old hold (no rank, until the request's end)
    is kept as a new one would be."""
    world.helper("a", skills=[Skill.CARRYING])
    _chore(world, "chore", urgency=Urgency.NORMAL)
    world.accept("a", "chore")
    [hold] = world.state.helpers["a"].presence
    chore = world.request("chore")
    assert (hold.rank, hold.until) == (1, chore.assignments[0].assigned_at + HOLD_CAP)
    assert chore.ends_at > hold.until
    old = PresenceHold(request_id="chore", until=chore.ends_at)
    world.state.helpers["a"] = updated(world.state.helpers["a"], presence=(old,))
    world.state = _rebuilt(world)
    assert world.state.helpers["a"].presence == (hold,)


def test_a_stored_hold_reads_back_with_its_rank(world):
    _holding(world)
    helper = world.state.helpers["a"]
    again = HelperState.model_validate_json(helper.model_dump_json())
    assert again.presence == helper.presence and again.presence[0].rank == 3


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 400),
    seed=st.integers(0, 1000),
    household=st.integers(0, 399),
    rank=st.integers(0, 3),
    holds=st.lists(st.tuples(st.integers(0, 3), st.integers(-60, 60)), max_size=3),
    every=st.integers(1, 5),
)
def test_the_index_skips_the_same_holders_as_the_scan(n, seed, household, rank, holds, every):
    """Holds of mixed ranks and ends on every `every`-th helper; searches of each rank."""
    state = build_state(n, seed, progress=False)
    ctx = search_context(household % n, SCAN_NOW, scan_limit=1000)
    ctx.urgency_rank = rank
    for k, entry in enumerate(list(state.index.entries.values())):
        if k % every:
            continue
        presence = tuple(
            PresenceHold(request_id=f"r-{j}", until=SCAN_NOW + timedelta(minutes=m), rank=r)
            for j, (r, m) in enumerate(holds)
        )
        helper = updated(state.helpers[entry.helper_id], presence=presence)
        state.index.upsert(HelperEntry.from_state(helper))
    need = SkillNeed(skills=(Skill.DRIVING,))
    assert not need.remote
    by_index = state.index.search(ctx, need, Ring.COMMUNITY, 12, set())
    by_scan = scan_search(state.index.entries.values(), ctx, need, Ring.COMMUNITY, 12, set())
    assert by_index == by_scan
