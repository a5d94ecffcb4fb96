"""Wire contracts: round-trips, validation, deterministic ids, no personal data in repr."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    Command,
    FireDeadline,
    SubmitRequest,
    deadline_command,
    new_command,
)
from schemas.events import Event, OfferStoodDown, event_id_for, make_event, offer_id_for
from schemas.plans import DEFAULT_PLANS, OFFER_RINGS, EscalationPlan, LadderStep
from schemas.requests import RequesterContact, RequestSpec, SkillNeed
from schemas.vocab import Category, Party, Ring, Skill, Urgency

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def test_command_round_trip_through_json(world):
    spec = world.spec()
    for body in (
        SubmitRequest(spec=spec),
        AcceptOffer(request_id="r", offer_id="o", helper_id="h"),
        CancelRequest(request_id="r", by=Party.REQUESTER, reason="好了"),
        FireDeadline(request_id="r", step=2),
    ):
        cmd = new_command(body, community_id="c", issued_at=NOW)
        assert Command.model_validate_json(cmd.model_dump_json()) == cmd


def test_commands_need_aware_times_and_known_types():
    body = FireDeadline(request_id="r", step=0)
    with pytest.raises(ValidationError):
        Command(command_id="x", community_id="c", issued_at=datetime(2024, 1, 1), body=body)
    china = datetime(2024, 3, 5, 20, 0, tzinfo=timezone(timedelta(hours=8)))
    assert Command(command_id="x", community_id="c", issued_at=china, body=body).issued_at == NOW
    with pytest.raises(ValidationError):
        Command.model_validate_json(
            '{"command_id":"x","community_id":"c","issued_at":"2024-03-05T12:00:00Z",'
            '"body":{"type":"launch_rocket"}}'
        )
    with pytest.raises(ValidationError):  # staff and requesters cancel; helpers withdraw
        CancelRequest(request_id="r", by=Party.HELPER)


def test_ids_are_deterministic():
    assert event_id_for("cmd-1", 0) == event_id_for("cmd-1", 0) != event_id_for("cmd-1", 1)
    assert offer_id_for("r", "h") == offer_id_for("r", "h") != offer_id_for("r", "h2")
    a = deadline_command(request_id="r", community_id="c", step=1, due_at=NOW)
    b = deadline_command(request_id="r", community_id="c", step=1, due_at=NOW)
    assert a.command_id == b.command_id


def test_event_round_trip():
    e = make_event(
        OfferStoodDown(offer_id="o", helper_id="h", reason="covered"),
        command_id="c1",
        index=3,
        community_id="c",
        request_id="r",
        occurred_at=NOW,
    )
    assert Event.model_validate_json(e.model_dump_json()) == e


def test_contact_never_in_repr(world):
    spec = world.spec(contact=RequesterContact(name="林女士", phone="13912345678", address="501"))
    assert "13912345678" not in repr(spec) and "林女士" not in repr(spec)


def test_effective_needs_rule(world):
    both = world.spec(skills=(Skill.DRIVING, Skill.NURSE), helpers_needed=2).effective_needs()
    assert [(n.skills, n.count, n.remote) for n in both] == [
        ((Skill.DRIVING,), 2, False),
        ((Skill.NURSE,), 1, True),
    ]
    legal = world.spec(skills=(Skill.LEGAL,), helpers_needed=1).effective_needs()
    assert legal[0].remote
    with pytest.raises(ValidationError):
        world.spec(helpers_needed=3, needs=(SkillNeed(count=2),))


def test_life_threatening_is_derived():
    base = {
        "request_id": "r",
        "community_id": "c",
        "place": {"community_id": "c"},
        "category": Category.FALL,
    }
    assert RequestSpec(**base, urgency=Urgency.CRITICAL).is_life_threatening()
    assert not RequestSpec(**base, urgency=Urgency.URGENT).is_life_threatening()


def test_default_plans_cover_every_urgency_and_fit_their_lifetime():
    assert set(DEFAULT_PLANS) == set(Urgency)
    critical = DEFAULT_PLANS[Urgency.CRITICAL]
    assert not critical.respect_do_not_disturb
    # Critical widens within seconds: staff and the group are called within a minute.
    offer_rungs = [s for s in critical.steps if s.ring in OFFER_RINGS]
    assert all(s.wait_s <= 60 for s in offer_rungs)
    assert sum(s.wait_s for s in offer_rungs) <= 60
    assert critical.steps[len(offer_rungs)].ring is Ring.WHISTLE
    with pytest.raises(ValidationError):
        EscalationPlan(
            urgency=Urgency.LOW,
            steps=(LadderStep(ring=Ring.BUILDING, wait_s=100),),
            offer_ttl_s=10,
            lifetime_s=50,
        )


# Commands say what to do; events say what happened. The class names are ours to change,
# the wire type strings are not (workers and stored topics read them).
COMMAND_WIRE_TYPES = {
    "SubmitRequest": "submit_request",
    "AcceptOffer": "accept_offer",
    "ReportRepeated": "report_repeated",
    "ReportQuietHoursChanged": "quiet_hours_changed",
    "DeclineOffer": "decline_offer",
    "ReportDeliveryFailure": "delivery_failed",
    "ReportStaffNotReached": "report_staff_not_reached",
    "RewriteHelper": "rewrite_helper",
    "CancelRequest": "cancel_request",
    "ResolveRequest": "resolve_request",
    "ReferRequest": "refer_request",
    "WithdrawHelper": "helper_withdrew",
    "MarkOnMyWay": "mark_on_my_way",
    "CompleteAssignment": "complete_assignment",
    "FireDeadline": "deadline_reached",
    "UpsertHelper": "upsert_helper",
    "DeactivateHelper": "deactivate_helper",
    "SetHelperStatus": "set_helper_status",
    "SetDoNotDisturb": "set_do_not_disturb",
    "ClaimRequest": "claim_request",
    "ReportBack": "report_back",
    "WelcomeHelper": "welcome_helper",
    "SendHelperSummary": "send_helper_summary",
    "SetHelperOffer": "set_helper_offer",
    "PairHousehold": "pair_household",
    "CallTeam": "call_team",
    "ReportWelcomeOutcome": "report_welcome_outcome",
}
IMPERATIVE_VERBS = (
    "Submit",
    "Rewrite",
    "Accept",
    "Decline",
    "Report",
    "Cancel",
    "Resolve",
    "Refer",
    "Withdraw",
    "Mark",
    "Complete",
    "Fire",
    "Upsert",
    "Deactivate",
    "Set",
    "Claim",
    "Welcome",
    "Send",
    "Pair",
    "Call",
)


def test_commands_are_imperative_and_keep_their_wire_types() -> None:
    import typing

    from schemas import commands

    bodies = typing.get_args(typing.get_args(commands.CommandBody)[0])
    found = {b.__name__: b.model_fields["type"].default for b in bodies}
    assert found == COMMAND_WIRE_TYPES
    assert all(name.startswith(IMPERATIVE_VERBS) for name in found)
