"""A team leader's accept that names who goes: each named member gets an assignment of
their own (their own on-my-way / can't-come / done, minutes and thanks), in the slots
after the leader's.

The leader names members; the core trusts none of it: every name must be an active
member of the offered team in the request's community, someone else than the leader and
the requester, named once, never assigned to this request before (a member who withdrew
stays withdrawn), not one who declined it, and not away or busy (the waves would not
offer them either; a name is no consent). One bad name refuses the whole accept, so
nothing is half done: each refusal names the member and why, so the leader can choose
again. A count without names (commands from before) holds no more slots than the team
has (`team_count`).
"""

from __future__ import annotations

import uuid
from datetime import date

from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.eligibility import is_requester
from dispatcher.core.entry import HelperEntry
from dispatcher.core.load import before_counted_day
from dispatcher.core.presence import holds_elsewhere, rank_of
from dispatcher.core.trusted import share_fields_sets, updated
from schemas.events import OfferStoodDown, RejectReason
from schemas.records import AssignmentRecord, HelperLoad, OfferRecord, OfferStatus

_NS = uuid.UUID("6a0f3d52-93c4-4b7e-8f1a-2c5d7e9b0a14")


def member_offer_id(request_id: str, helper_id: str) -> str:
    """The id a member's assignment goes by (their links and buttons): derived, unlike
    an offer's, from a name no offer uses, so it never meets an offer to them."""
    return str(uuid.uuid5(_NS, f"team-member:{request_id}:{helper_id}"))


def check_members(
    fx: Effects, d: RequestDraft, offer: OfferRecord, member_ids: tuple[str, ...]
) -> tuple[RejectReason, str] | None:
    """Why these names cannot go (reason, the first bad name), or None when all can."""
    seen = {offer.helper_id}
    ever_assigned = {a.helper_id for a in d.assignments}
    declined = {o.helper_id for o in d.offers if o.status is OfferStatus.DECLINED}
    for helper_id in member_ids:
        helper = fx.helper(helper_id)
        if (
            helper_id in seen
            or helper is None
            or not helper.profile.active
            or helper.profile.community_id != d.spec.community_id
            or offer.team_id not in (*helper.profile.teams, *helper.profile.leads_teams)
            # Never a helper on their own request: known by id or phone, as the waves do.
            or is_requester(HelperEntry.from_profile(helper.profile), d.ctx)
        ):
            return "not_a_team_member", helper_id
        if helper_id in ever_assigned:
            return "already_assigned", helper_id
        if helper_id in declined:
            return "member_declined", helper_id
        if (
            helper.away
            or helper.busy
            or holds_elsewhere(helper, d.request_id, fx.now, rank_of(d.spec))
        ):
            # Also on an in-person errand for another request (`core/presence.py`).
            return "member_unavailable", helper_id
        seen.add(helper_id)
    return None


def team_count(fx: Effects, community_id: str, offer: OfferRecord, members: int) -> int:
    """How many slots a leader's accept may hold: a count without names (commands from
    before) no more than the team has: its active members in the community and the leader,
    counted as the offer's `team_size` is. Named members are checked one by one
    (`check_members`), so their count never exceeds it."""
    if members <= 1 or offer.team_id is None:
        return members
    team = offer.team_id
    others = sum(
        1
        for e in fx.state.index.entries.values()
        if e.active
        and e.community_id == community_id
        and team in e.teams
        and e.helper_id != offer.helper_id
    )
    return min(members, 1 + others)


def signed_up(load: HelperLoad, today: date) -> HelperLoad:
    """A member's day count grows (fairness), but not their answers: they did not answer.
    A day before the counted one changes nothing (`load.before_counted_day`)."""
    if before_counted_day(load, today):
        return load
    if load.day != today:
        return updated(load, day=today, offers_today=0, assignments_today=1)
    return updated(load, assignments_today=load.assignments_today + 1)


def assign_members(
    fx: Effects,
    d: RequestDraft,
    leader: AssignmentRecord,
    member_ids: tuple[str, ...],
    slots: list[int],
) -> list[AssignmentRecord]:
    """One assignment per member, slot by slot (as many as `slots`, in the leader's
    order); a member's open offer on this request closes (they are going already)."""
    made = [
        share_fields_sets(  # kept in the request's record
            AssignmentRecord(
                helper_id=helper_id,
                offer_id=member_offer_id(d.request_id, helper_id),
                need_index=leader.need_index,
                slot=slot,
                assigned_at=fx.now,
                team_id=leader.team_id,
                signed_up_by=leader.helper_id,
            )
        )
        for helper_id, slot in zip(member_ids, slots, strict=False)
    ]
    going = {a.helper_id for a in made}
    for i, o in enumerate(d.offers):
        if o.helper_id in going and o.status is OfferStatus.OPEN:
            d.set_offer(i, status=OfferStatus.STOOD_DOWN, closed_at=fx.now)
            fx.emit(
                OfferStoodDown(offer_id=o.offer_id, helper_id=o.helper_id, reason="covered"),
                d.request_id,
            )
    d.assignments.extend(made)
    for a in made:
        fx.update_load(a.helper_id, signed_up)
    return made
