"""Session 42 (audit H2): what a helper's record keeps and counts.

- A member their leader signed up never accepted: giving the slot back costs no ranking.
- A late accept of an offer counted no answer (expired, push failed) counts once.
- A ledger re-import or staff PUT that states no quiet hours or channel keeps the ones the
  helper chose on their personal page, while they stay on the roster; a sign-up after
  leaving states its own.
- Leaving the roster ends that time on it: away/busy/override and the welcome mark go, so
  a helper signing up again is welcomed and offered requests.
"""

from __future__ import annotations

from datetime import time, timedelta

from schemas.commands import (
    DeactivateHelper,
    ReportDeliveryFailure,
    SetDoNotDisturb,
    SetHelperOffer,
    SetHelperStatus,
    UpsertHelper,
    WithdrawHelper,
)
from schemas.helper_messages import WelcomeHelper
from schemas.helpers import TimeWindow
from schemas.records import OfferStatus
from schemas.vocab import Skill, Urgency
from tests.unit.conftest import World
from tests.unit.test_core_team_members import _accept_naming, _carry, _team

# --- a member signed up by their leader -----------------------------------------------------


def _member_signed_up() -> World:
    world = World()
    _team(world)
    _carry(world, 3)
    _accept_naming(world, "member-1")
    world.later(60)
    return world


def test_a_member_signed_up_by_their_leader_is_not_charged_a_withdrawal() -> None:
    """The member never accepted (`team_members.signed_up` counts no answer of theirs);
    their 去不了了 was charged `withdrawn_total`, 1.2 accepts against an accept never
    counted: a newcomer member fell from 0.5 to 0.0, below any decliner."""
    world = _member_signed_up()
    before = world.state.helpers["member-1"].load.responsiveness()
    world.run(WithdrawHelper(request_id="req-1", helper_id="member-1"))
    load = world.state.helpers["member-1"].load
    assert world.of_type("helper_withdrawn"), "the withdrawal itself still happens"
    assert load.withdrawn_total == 0
    assert load.responsiveness() >= before - 1e-9, (
        f"member charged for a sign-up they never accepted: {before:.2f} -> "
        f"{load.responsiveness():.2f} ({load})"
    )


def test_the_leader_who_accepted_and_withdraws_is_still_charged() -> None:
    world = _member_signed_up()
    leader = world.request().assignments[0].helper_id
    world.run(WithdrawHelper(request_id="req-1", helper_id=leader))
    assert world.state.helpers[leader].load.withdrawn_total == 1


# --- a late accept ----------------------------------------------------------------------


def test_a_late_accept_is_not_also_counted_as_no_answer() -> None:
    """An offer whose time ran out counts `no_answer`; the helper then presses 能来 (the
    link works until the request's end, a late answer fills a free slot) and is assigned.
    The no-answer stayed: one offer counted as an accept and a no-answer (0.50, not 0.67)."""
    world = World()
    world.helper("late", skills=[Skill.DRIVING])
    world.submit(urgency=Urgency.URGENT)
    while world.request().offers[0].status is OfferStatus.OPEN:
        world.tick()
    assert world.request().offers[0].status is OfferStatus.EXPIRED
    assert world.state.helpers["late"].load.no_answer_total == 1
    world.later(60)
    out = world.accept("late")
    assert world.of_type("helper_assigned", out), "late accept should be assigned"
    load = world.state.helpers["late"].load
    assert (load.accepted_total, load.no_answer_total) == (1, 0), load
    assert abs(load.responsiveness() - 2 / 3) < 1e-9


def test_an_accept_after_a_failed_push_counts_once() -> None:
    """A failed push counts no answer (`delivery_failed`); the helper, reached another way
    (the link forwarded by staff, their page), accepts: one answer, an accept."""
    world = World()
    world.helper("a", skills=[Skill.DRIVING])
    world.submit()
    world.run(
        ReportDeliveryFailure(request_id="req-1", offer_id=world.offer_id("a"), helper_id="a")
    )
    assert world.state.helpers["a"].load.no_answer_total == 1
    assert world.of_type("helper_assigned", world.accept("a"))
    load = world.state.helpers["a"].load
    assert (load.accepted_total, load.no_answer_total) == (1, 0), load


def test_an_accept_in_time_takes_no_answer_back() -> None:
    """Only the offer's own no-answer is taken back: one counted for another offer stays."""
    world = World()
    world.helper("a", skills=[Skill.DRIVING])
    world.submit("req-0")
    while world.request("req-0").offers[0].status is OfferStatus.OPEN:
        world.tick("req-0")
    world.later(60)
    world.submit()
    assert world.of_type("helper_assigned", world.accept("a"))
    load = world.state.helpers["a"].load
    assert (load.accepted_total, load.no_answer_total) == (1, 1), load


# --- the helper's own choices across a re-import ------------------------------------------


def test_ledger_reimport_keeps_the_quiet_hours_the_helper_set_themselves() -> None:
    """The helper sets 22:00-07:00 on their page; staff re-import the same ledger (no
    quiet-hours column). The UpsertHelper replaced the whole profile: the quiet hours were
    gone and the helper woken at night for urgent requests, never told."""
    world = World()
    ledger = world.helper("ann", skills=[Skill.DRIVING])
    night = TimeWindow(start=time(22), end=time(7))
    world.run(SetDoNotDisturb(helper_id="ann", window=night))
    world.run(UpsertHelper(profile=ledger))  # the monthly re-import, same row
    assert world.state.helpers["ann"].profile.do_not_disturb == night


def test_ledger_reimport_keeps_the_private_channel_the_helper_chose() -> None:
    world = World()
    ledger = world.helper("ann", skills=[Skill.DRIVING])
    world.run(
        SetHelperOffer(helper_id="ann", skills=(Skill.DRIVING,), channels=("webhook:phones",))
    )
    world.run(UpsertHelper(profile=ledger))
    assert world.state.helpers["ann"].profile.channels == ("webhook:phones",)


def test_quiet_hours_and_channel_a_profile_states_replace_the_stored_ones() -> None:
    world = World()
    ledger = world.helper("ann", skills=[Skill.DRIVING])
    world.run(SetDoNotDisturb(helper_id="ann", window=TimeWindow(start=time(22), end=time(7))))
    world.run(
        SetHelperOffer(helper_id="ann", skills=(Skill.DRIVING,), channels=("webhook:phones",))
    )
    stated = TimeWindow(start=time(23), end=time(6))
    world.run(
        UpsertHelper(
            profile=ledger.model_copy(
                update={"do_not_disturb": stated, "channels": ("wecom:grid-3",)}
            )
        )
    )
    profile = world.state.helpers["ann"].profile
    assert (profile.do_not_disturb, profile.channels) == (stated, ("wecom:grid-3",))


# --- leaving the roster -----------------------------------------------------------------


def test_a_helper_signing_up_again_after_leaving_is_welcomed() -> None:
    """The join page promises a welcome with the personal link; a resident welcomed in an
    earlier time on the roster kept `welcomed_at`, so `helper_messages.welcome` sent
    nothing."""
    world = World()
    profile = world.helper("ann", skills=[Skill.DRIVING])
    world.run(WelcomeHelper(helper_id="ann"))
    assert world.of_type("helper_welcomed"), "first welcome"
    world.run(DeactivateHelper(helper_id="ann"))
    world.later(timedelta(days=60).total_seconds())
    world.run(UpsertHelper(profile=profile))  # staff approve the new sign-up
    out = world.run(WelcomeHelper(helper_id="ann"))
    assert world.of_type("helper_welcomed", out), "re-approved helper gets no welcome"


def test_reactivated_helper_is_not_left_away() -> None:
    """Away when staff deactivated them, approved again: the away flag was kept, so the
    welcomed helper was offered nothing while their page showed no status."""
    world = World()
    profile = world.helper("ann", skills=[Skill.DRIVING])
    world.run(SetHelperStatus(helper_id="ann", away=True, busy=True))
    world.run(DeactivateHelper(helper_id="ann"))
    helper = world.state.helpers["ann"]
    assert not (helper.away or helper.busy or helper.welcomed_at)
    world.later(timedelta(days=30).total_seconds())
    world.run(UpsertHelper(profile=profile))  # approved again
    assert world.state.helpers["ann"].profile.active
    world.submit()
    assert "ann" in world.offered(), "re-activated helper still away: never offered"


def test_left_out_of_the_ledger_and_back_is_welcomed_and_not_away() -> None:
    """The ledger's own way off the roster (`active: false`), and a record stored inactive
    before this rule (away and welcomed kept): back on the roster both start afresh."""
    world = World()
    profile = world.helper("ann", skills=[Skill.DRIVING])
    world.run(WelcomeHelper(helper_id="ann"))
    world.run(SetHelperStatus(helper_id="ann", away=True))
    world.run(UpsertHelper(profile=profile.model_copy(update={"active": False})))
    helper = world.state.helpers["ann"]
    assert not helper.away and helper.welcomed_at is None
    # As a worker from before this rule left it: inactive, still away and welcomed.
    world.state.helpers["ann"] = helper.model_copy(update={"away": True, "welcomed_at": world.now})
    world.run(UpsertHelper(profile=profile))
    helper = world.state.helpers["ann"]
    assert not helper.away and helper.welcomed_at is None
    assert world.of_type("helper_welcomed", world.run(WelcomeHelper(helper_id="ann")))


def test_a_new_sign_up_after_leaving_states_its_own_channel_and_quiet_hours() -> None:
    """Review R2 of b58f142: the re-import rule also ran on a comeback, so a resident who
    left and signs up again choosing 社区默认方式 (channels ()) kept the channel and quiet
    hours of the earlier time on the roster (an endpoint deleted since: every offer fails,
    counted no answer, the welcome never arrives)."""
    world = World()
    ledger = world.helper("ann", skills=[Skill.DRIVING])
    world.run(
        SetHelperOffer(helper_id="ann", skills=(Skill.DRIVING,), channels=("webhook:phones",))
    )
    world.run(SetDoNotDisturb(helper_id="ann", window=TimeWindow(start=time(20), end=time(9))))
    world.run(DeactivateHelper(helper_id="ann"))
    world.later(timedelta(days=365).total_seconds())
    # The join form's approval: the resident chose the community's default, no quiet hours.
    world.run(UpsertHelper(profile=ledger))
    profile = world.state.helpers["ann"].profile
    assert profile.active
    assert (profile.channels, profile.do_not_disturb) == ((), None), profile
