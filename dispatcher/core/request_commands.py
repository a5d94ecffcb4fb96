"""The request state machine: one handler per request command.

Each handler gets a draft of the request (or None when unknown) and returns the draft to
store, or None when nothing changed. Duplicates (same command id) never reach here;
commands that arrive too late or for the wrong thing become `CommandRejected` events, or
silent no-ops when the outcome they ask for already holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

from dispatcher.core.community import CommunityPolicy
from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.ladder import (
    advance,
    call_again,
    climb_if_late,
    close,
    current_offer_ring,
    end_of_lifetime,
    ends_unseen,
    expire_due_offers,
    helpers_coming,
    keeps_assigned,
    lifetime_end,
    lost_needs,
    offer_wave,
    paused,
    paused_for_quiet_hours,
    releases_assigned,
    resolve_now,
    resume,
    run_step,
    stand_down,
    top_up,
    whistle_at_the_end,
)
from dispatcher.core.load import accepted, answer_taken_back, declined, no_answer, withdrew
from dispatcher.core.presence import blocks, holds_elsewhere, rank_of
from dispatcher.core.team_members import assign_members, check_members, team_count
from dispatcher.core.trusted import share_fields_sets, trusted, updated
from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    DeclineOffer,
    FireDeadline,
    ReferRequest,
    ReportDeliveryFailure,
    ReportQuietHoursChanged,
    ResolveRequest,
    SubmitRequest,
    WithdrawHelper,
)
from schemas.events import (
    CommandRejected,
    EmergencyCallAdvised,
    Event,
    HelperAssigned,
    HelperWithdrawn,
    OfferDeclined,
    OfferFailed,
    OffersSent,
    RejectReason,
    RequestCancelled,
    RequestOpened,
    RequestReferred,
)
from schemas.holds import RequestHeld, RequestReleased
from schemas.records import AssignmentRecord, HelperLoad, OfferStatus, RequestState, RequestStatus
from schemas.vocab import EmergencyNumber, Party, Ring

# What the requester is told to call, by the number the spec names (`spec.emergency()`).
# Said before anyone accepted (at night nobody may): neighbours are being told, not coming.
EMERGENCY_MESSAGES: dict[EmergencyNumber, str] = {
    EmergencyNumber.AMBULANCE: "请立即拨打120急救电话！同时正在通知附近邻居。",
    EmergencyNumber.FIRE: "请立即拨打119火警电话，并远离危险区域！同时正在通知附近邻居。",
    EmergencyNumber.POLICE: "请立即拨打110报警！同时正在通知附近邻居。",
}


def reject(
    fx: Effects,
    request_id: str | None,
    reason: RejectReason,
    *,
    helper_id: str | None = None,
    offer_id: str | None = None,
    detail: str = "",
) -> None:
    fx.emit(
        CommandRejected(
            command_type=fx.command.body.type,
            reason=reason,
            helper_id=helper_id,
            offer_id=offer_id,
            detail=detail,
        ),
        request_id,
    )


def submit(fx: Effects, body: SubmitRequest) -> RequestDraft | None:
    spec = body.spec
    if spec.request_id in fx.state.requests:
        return None  # a re-submission (e.g. a bot retry with a new id): one request only
    if spec.community_id != fx.command.community_id:
        reject(fx, spec.request_id, "wrong_community")
        return None
    # The community's plan set (its configured `plan`), snapshotted onto the request.
    plan = fx.state.plan_for(spec.community_id, spec.urgency)
    policy = fx.state.policy(spec.community_id)
    held_until = policy.quiet_until(spec, fx.now)
    starts = held_until or fx.now
    # The resident's intake: a submit the worker read late (down, or behind) is sent again
    # and decided at its clock then (`schemas.commands.reissued`), its ladder, offers and
    # lifetime counting from then, as a held request's from its release; its opening (and
    # the time to its first offer) still counts from the intake.
    opened = min(fx.command.issued_at, fx.now)
    party_first = fx.state.party_first.get(spec.community_id)
    if (
        party_first is not None
        and not spec.prefer_party_member
        and party_first.applies(spec.category)
    ):
        # The community's setting, snapshotted onto the request like its plan.
        spec = updated(spec, prefer_party_member=True)
    request = trusted(  # the spec and plan are validated models; the times UTC
        RequestState,
        spec=share_fields_sets(spec),  # kept while the request lives
        plan=plan,
        created_at=opened,
        # A held request's lifetime counts from when it goes out; quiet hours that would
        # hold it are not counted (its ladder pauses through them: `lifetime_end`).
        ends_at=lifetime_end(policy, spec, starts, plan.lifetime_s),
        step_started_at=starts,
        held_until=held_until,
    )
    d = RequestDraft.of(request, fx.now)
    fx.emit(
        trusted(  # every value from the validated spec and plan
            RequestOpened,
            category=spec.category,
            urgency=spec.urgency,
            helpers_needed=sum(n.count for n in d.needs),  # `spec.total_slots()`, derived once
            building_label=spec.place.building_label(),
            ladder=plan.steps,
            ends_at=request.ends_at,
        ),
        d.request_id,
        at=opened,
    )
    number = spec.emergency()  # the words' number (a fire in `other`: 119), else the kind's
    if number is not None:
        fx.emit(
            trusted(EmergencyCallAdvised, number=number, message=EMERGENCY_MESSAGES[number]),
            d.request_id,
        )
    if held_until is not None:
        fx.emit(
            RequestHeld(until=held_until, local_time=policy.local_time(held_until)),
            d.request_id,
        )
        return d
    run_step(fx, d)
    return d


def release(fx: Effects, d: RequestDraft) -> None:
    """Quiet hours ended: the held request's ladder starts now; one paused on its way
    goes on (`ladder.resume`), with no `RequestReleased` (the read model would count its
    time to first accept from here). Each only if the community's hours as they are now no
    longer hold it (they may have changed since it was held: `quiet_hours_changed`): a
    paused ladder pauses again at the first thing it would send in them (`resume` climbs
    or tops up through `ladder.paused_for_quiet_hours`)."""
    if paused(d):
        resume(fx, d)
        return
    policy = fx.state.policy(d.spec.community_id)
    until = policy.quiet_until(d.spec, fx.now)
    if until is not None:
        # Decided in quiet hours again (a timer back from an outage in the night): held on
        # until they end, its end not before then (`ladder.paused_for_quiet_hours`).
        d.held_until = d.step_started_at = until
        d.ends_at = max(d.ends_at, until)
        fx.emit(RequestHeld(until=until, local_time=policy.local_time(until)), d.request_id)
        return
    held_since = d.base.created_at
    d.held_until = None
    d.step_started_at = fx.now
    fx.emit(RequestReleased(held_since=held_since), d.request_id)
    run_step(fx, d)
    climb_if_late(fx, d)  # released after its time (reopened while held)


def quiet_hours_changed(
    fx: Effects, d: RequestDraft, body: ReportQuietHoursChanged
) -> RequestDraft | None:
    """The community's quiet hours changed while they hold the request (the worker's
    `ReportQuietHoursChanged`): its hold's end was fixed when it was held, so it is decided
    again now, as at that end (`release`), from the hours the command carries (as the worker
    saw them when it sent it, not as they are when it is decided: a replay decides alike):
    no longer held, it is released (its first offers go out now) or its paused ladder goes
    on; held to another end (hours shortened or extended), it is held to that one, its
    deadline moved there. The old end's deadline, if it still comes, finds it released: an
    ordinary tick. Not held (released already), or held to the same end: nothing."""
    held_until = d.held_until
    if d.terminal or held_until is None or fx.now >= held_until:
        return None  # not held, or its end has come: the timer's deadline releases it
    policy = _carried_policy(fx, d, body)
    until = policy.quiet_until(d.spec, fx.now)
    if until == held_until:
        return None
    if until is not None:
        if paused(d):
            # Its lifetime was counted without the pause's hours: moved by as much as the
            # pause's end, either way (flaps leave it where one change would), never
            # before the new end nor now.
            d.ends_at = max(d.ends_at + (until - held_until), until, fx.now)
        else:
            # Held at submission: its end as `submit` counts it from the new hold's end.
            d.ends_at = lifetime_end(policy, d.spec, until, d.plan.lifetime_s)
    live = fx.state.communities
    fx.state.communities = {**live, d.spec.community_id: policy}
    try:  # `release` (and the ladder's pause) read the community's hours from the state
        release(fx, d)
    finally:
        fx.state.communities = live
    return d


def _carried_policy(fx: Effects, d: RequestDraft, body: ReportQuietHoursChanged) -> CommunityPolicy:
    """The community's policy with the quiet hours and zone `body` carries."""
    quiet = body.quiet_hours
    return replace(
        fx.state.policy(d.spec.community_id),
        quiet_start=None if quiet is None else quiet.start,
        quiet_end=None if quiet is None else quiet.end,
        zone=ZoneInfo(body.time_zone),
    )


def _offer_for(fx: Effects, d: RequestDraft, offer_id: str, helper_id: str) -> int | None:
    i = d.find_offer(offer_id)
    if i is None:
        reject(fx, d.request_id, "unknown_offer", helper_id=helper_id, offer_id=offer_id)
        return None
    if d.offers[i].helper_id != helper_id:
        reject(fx, d.request_id, "not_your_offer", helper_id=helper_id, offer_id=offer_id)
        return None
    return i


def accept(fx: Effects, d: RequestDraft, body: AcceptOffer) -> RequestDraft | None:
    i = _offer_for(fx, d, body.offer_id, body.helper_id)
    if i is None:
        return None
    offer = d.offers[i]
    if offer.status is OfferStatus.ACCEPTED:
        return None  # a second tap on "I'll go": already assigned
    if any(a.helper_id == offer.helper_id for a in d.assignments):
        # Signed up by their team's leader (or withdrawn from it): not twice on a request.
        reject(
            fx, d.request_id, "already_assigned", helper_id=offer.helper_id, offer_id=offer.offer_id
        )
        return None
    if body.members > 1 and offer.team_id is None:
        reject(
            fx, d.request_id, "not_a_team_offer", helper_id=offer.helper_id, offer_id=offer.offer_id
        )
        return None
    if d.terminal:
        reject(
            fx, d.request_id, "request_closed", helper_id=offer.helper_id, offer_id=offer.offer_id
        )
        return None
    helper = fx.helper(offer.helper_id)
    if helper is None or not helper.profile.active:
        # Off the roster since the offer went out: their link no longer assigns them.
        reject(
            fx,
            d.request_id,
            "unknown_helper",
            helper_id=offer.helper_id,
            offer_id=offer.offer_id,
            detail="deactivated",
        )
        return None
    # A late answer (after no-answer, a decline or a stand-down) still fills a free slot.
    free = [n for n in offer.need_indexes if d.open_slots(n) > 0]
    if not free:
        reject(fx, d.request_id, "covered", helper_id=offer.helper_id, offer_id=offer.offer_id)
        return None
    if holds_elsewhere(helper, d.request_id, fx.now, rank_of(d.spec)):
        # On an in-person errand for another neighbour at least as urgent (an offer sent
        # before they took it): a phone slot they may still take, an in-person one stays
        # for others. A more urgent request's they may take (`core/presence.py`).
        free = [n for n in free if d.remote[n]]
        if not free:
            return _busy_elsewhere(fx, d, i)
    need_index = free[0]
    if body.member_ids:
        bad = check_members(fx, d, offer, body.member_ids)
        if bad is not None:
            reject(
                fx,
                d.request_id,
                bad[0],
                helper_id=offer.helper_id,
                offer_id=offer.offer_id,
                detail=bad[1],
            )
            return None
    # A team's leader takes as many of the need's open slots as members come (no more than
    # are open, nor than the team has): named members each their own, else (commands from
    # before names) the leader all.
    slots = d.free_slots(need_index, team_count(fx, d.spec.community_id, offer, body.members))
    slot = slots[0]
    d.set_offer(i, status=OfferStatus.ACCEPTED, closed_at=fx.now)
    leader = share_fields_sets(  # kept in the request's record
        AssignmentRecord(
            helper_id=offer.helper_id,
            offer_id=offer.offer_id,
            need_index=need_index,
            slot=slot,
            assigned_at=fx.now,
            team_id=offer.team_id,
            team_slots=() if body.member_ids else tuple(slots[1:]),
        )
    )
    d.assignments.append(leader)
    members = assign_members(fx, d, leader, body.member_ids, slots[1:])
    need = d.needs[need_index]
    assigned = HelperAssigned(
        offer_id=offer.offer_id,
        helper_id=offer.helper_id,
        slot=slot,
        skills=tuple(s.value for s in need.skills),
        remote=need.remote,
        contact=d.spec.contact,
        place=d.spec.place,
        text=d.spec.text,
        sealed=d.spec.sealed,
        # Only when they opted in: their name box (sealed since 12.7), or a plain name.
        group_name=(
            helper.profile.name if helper.profile.name_in_group and helper.profile.name else None
        ),
        sealed_group_name=helper.profile.sealed_name if helper.profile.name_in_group else None,
        team_id=offer.team_id,
        members=len(slots),
        member_ids=tuple(m.helper_id for m in members),
    )
    fx.emit(assigned, d.request_id)
    for m in members:  # each member's own: the contact goes to the assigned only
        fx.emit(
            updated(
                assigned,
                offer_id=m.offer_id,
                helper_id=m.helper_id,
                slot=m.slot,
                group_name=None,
                sealed_group_name=None,
                members=1,
                member_ids=(),
                signed_up_by=offer.helper_id,
            ),
            d.request_id,
        )
    fx.update_load(offer.helper_id, answered_late(offer.status))
    if not d.open_needs():
        d.status = RequestStatus.FILLED
    stand_down(fx, d, "covered", only_covered=True)
    if not need.remote:
        # Each of them now holds this request in person (`core/presence.py`): their offers
        # of other requests' in-person needs can no longer be accepted.
        _stand_down_elsewhere(fx, d, [offer.helper_id, *(m.helper_id for m in members)])
    return d


def answered_late(was: OfferStatus) -> Callable[[HelperLoad, date], HelperLoad]:
    """The accept's count. An offer whose time ran out, or whose push failed, was counted
    no answer (`ladder.expire_due_offers`, `delivery_failed`); a late accept of it (its
    link works until the request's end) answers it: the no-answer is taken back, so one
    offer counts once. A decline is not taken back: some are recorded without counting
    one (pressed after a stand-down, an accept refused as `helping_elsewhere`), and the
    offer's record cannot tell which."""
    if was not in (OfferStatus.EXPIRED, OfferStatus.FAILED):
        return accepted
    return lambda load, today: accepted(answer_taken_back(load), today)


def _stand_down_elsewhere(fx: Effects, d: RequestDraft, helper_ids: list[str]) -> None:
    """The helpers just took `d`'s in-person need: their open offers of in-person needs on
    the community's other live requests no more urgent than `d` (those the new hold blocks,
    `presence.blocks`) are stood down (`helping_elsewhere`, no push: they are on their way
    here) and replaced at once, as a refused accept's is (`_busy_elsewhere`), so those
    requesters do not wait out the rung for someone who cannot come. An offer with a phone
    need among its needs stays: a phone slot they may still take; so does an offer of a
    more urgent request: taking a chore never takes them from someone who collapsed.

    Here, not after the hold is stored (`Effects.sync_presence`): every hold starts at an
    accept (the helper, a team's leader for their slots, each member they name). A scan
    of the live requests (an accept is rarer than an offer), skipped for those never
    offered anything (named members, mostly); in request id order, so a replay, or a
    restart that reads the requests back in another order, makes the same events."""
    community_id = d.spec.community_id
    wanted: set[str] = set()
    for helper_id in helper_ids:
        helper = fx.helper(helper_id)
        if helper is not None and helper.load.last_offered_at is not None:
            wanted.add(helper_id)
    if not wanted:
        return
    rank = rank_of(d.spec)
    found = sorted(
        (
            r
            for r in fx.state.requests.live()
            if r.community_id == community_id
            and r.request_id != d.request_id
            and not r.terminal
            and any(o.helper_id in wanted and o.status is OfferStatus.OPEN for o in r.offers)
            and blocks(rank, rank_of(r.spec))
        ),
        key=lambda r: r.request_id,
    )
    for r in found:
        other = RequestDraft.of(r, fx.now)
        lost = [
            o
            for o in other.offers
            if o.helper_id in wanted
            and o.status is OfferStatus.OPEN
            and not any(other.remote[n] for n in o.need_indexes)
        ]
        if not lost:
            continue  # phone offers only: kept
        for o in lost:
            stand_down(fx, other, "helping_elsewhere", only_helper=o.helper_id)
        # All who took `d` in person, not only those stood down here: a named member never
        # offered this request is no more free for its top-up than the leader.
        other.taken_elsewhere.update(helper_ids)
        top_up(fx, other, {n for o in lost for n in lost_needs(other, o)})
        fx.requests[r.request_id] = other.freeze(fx.command.command_id)


def _busy_elsewhere(fx: Effects, d: RequestDraft, i: int) -> RequestDraft | None:
    """Refuse an accept from a helper holding an in-person assignment of another request
    (`core/presence.py`): `helping_elsewhere`, which their page explains (finish that one or
    give it back first). An open offer is closed as a decline and replaced now, so the
    requester is not left waiting for someone who cannot come; no answer is counted against
    them (they meant to help). Later, free again, they may still take a slot left open."""
    offer = d.offers[i]
    reject(
        fx, d.request_id, "helping_elsewhere", helper_id=offer.helper_id, offer_id=offer.offer_id
    )
    if offer.status is not OfferStatus.OPEN:
        return None
    d.set_offer(i, status=OfferStatus.DECLINED, closed_at=fx.now)
    fx.emit(OfferDeclined(offer_id=offer.offer_id, helper_id=offer.helper_id), d.request_id)
    top_up(fx, d, lost_needs(d, offer))
    return d


def decline(fx: Effects, d: RequestDraft, body: DeclineOffer) -> RequestDraft | None:
    i = _offer_for(fx, d, body.offer_id, body.helper_id)
    if i is None:
        return None
    offer = d.offers[i]
    if offer.status is OfferStatus.DECLINED:
        return None
    if (
        offer.status is OfferStatus.STOOD_DOWN
        and not d.terminal
        and offer.helper_id in d.stood_down_covered()
    ):
        # Stood down as covered, then "来不了" pressed: they said no, so a re-ask of a slot
        # that reopens must not ask them again (`not_to_ask` spares only those who never
        # said no). Recorded as a decline; no slot waited on them (no top-up), and saying
        # no to an offer already withdrawn costs them nothing (no load).
        d.set_offer(i, status=OfferStatus.DECLINED)
        no = OfferDeclined(
            offer_id=offer.offer_id, helper_id=offer.helper_id, after_stand_down=True
        )
        fx.emit(no, d.request_id)
        return d
    if offer.status is not OfferStatus.OPEN:
        reject(
            fx, d.request_id, "offer_not_open", helper_id=offer.helper_id, offer_id=offer.offer_id
        )
        return None
    d.set_offer(i, status=OfferStatus.DECLINED, closed_at=fx.now)
    fx.emit(OfferDeclined(offer_id=offer.offer_id, helper_id=offer.helper_id), d.request_id)
    fx.update_load(offer.helper_id, lambda load, _today: declined(load))
    top_up(fx, d, lost_needs(d, offer))
    return d


def delivery_failed(
    fx: Effects, d: RequestDraft, body: ReportDeliveryFailure
) -> RequestDraft | None:
    i = d.find_offer(body.offer_id)
    if i is None or d.offers[i].helper_id != body.helper_id:
        return None  # a delivery report about something we never sent: nothing to do
    offer = d.offers[i]
    if offer.status is not OfferStatus.OPEN:
        return None  # e.g. a stand-down message that failed: no slot depends on it
    d.set_offer(i, status=OfferStatus.FAILED, closed_at=fx.now)
    fx.emit(
        OfferFailed(offer_id=offer.offer_id, helper_id=offer.helper_id, reason=body.reason),
        d.request_id,
    )
    fx.update_load(offer.helper_id, lambda load, _today: no_answer(load))
    top_up(fx, d, lost_needs(d, offer))
    return d


def kept_on(d: RequestDraft) -> bool:
    """Closed by a staff referral to 120/110/119 (`ladder.keeps_assigned`): the helpers
    assigned were kept and told to go on if they can until the professionals arrive
    (push `render_referred_notice`): "on my way" still means something, "done" counts,
    and "can't come after all" must be heard (`helper_withdrew`)."""
    return d.status is RequestStatus.REFERRED and not releases_assigned(d)


def helper_withdrew(fx: Effects, d: RequestDraft, body: WithdrawHelper) -> RequestDraft | None:
    """The helper cannot come after all (or staff say they did not show): the assignment
    ends and, on a live request, the slot reopens and the current ring is asked again.

    Also on a request referred to 120/110/119 that kept its helpers (`kept_on`): they were
    told to go on if they can, so one who cannot must be able to say so, else staff (and
    120) count on someone who is not coming. The assignment ends and `HelperWithdrawn` says
    so (the dashboard's live feed; the read model's helpers_assigned drops) - but no
    neighbour is asked instead and the request stays referred: it is with the
    professionals now. Any other closing (cancelled, resolved, expired, referred elsewhere)
    refuses it as `request_closed`, as before."""
    held = [k for k, a in enumerate(d.assignments) if a.helper_id == body.helper_id and a.active]
    if not held:
        if any(a.helper_id == body.helper_id for a in d.assignments):
            return None  # already withdrawn
        reject(fx, d.request_id, "not_assigned", helper_id=body.helper_id)
        return None
    if d.terminal and not kept_on(d):
        reject(fx, d.request_id, "request_closed", helper_id=body.helper_id)
        return None
    k = held[0]
    a = d.assignments[k]
    if a.done_at is not None:
        reject(fx, d.request_id, "already_done", helper_id=body.helper_id)
        return None
    d.assignments[k] = updated(a, active=False, no_show=body.no_show, ended_at=fx.now)
    withdrawn = HelperWithdrawn(
        offer_id=a.offer_id, helper_id=a.helper_id, slot=a.slot, no_show=body.no_show
    )
    at = len(fx.events)  # its place: the re-wave below fills in `offers_sent`
    fx.emit(withdrawn, d.request_id)
    if body.no_show or not (d.terminal or a.signed_up_by is not None):
        # Kept after a referral (terminal here), a helper was told "go on if you can": one
        # who says they cannot is honest, not going back on an accept, and it costs them
        # no ranking (`HelperLoad.responsiveness`); a no-show staff record still does.
        # Nor a member their leader signed up: the withdrawal's cost undoes an accept, and
        # they never accepted (`team_members.signed_up` counts no answer of theirs).
        fx.update_load(a.helper_id, lambda load, _today: withdrew(load, body.no_show))
    if d.terminal:
        return d  # referred and kept: nobody else is asked, the professionals are coming
    if d.status is RequestStatus.FILLED:
        d.status = RequestStatus.OPEN
        if d.step < len(d.plan.steps) and not d.held:
            # The current rung gets its full wait again (held: from the release, which
            # tells a hold from a pause by this start, `ladder.paused`).
            d.step_started_at = fx.now
    if paused_for_quiet_hours(fx, d):
        return d  # nobody else asked until quiet hours end (the ladder goes on then)
    blown = d.whistle_blown  # before the re-wave: a climb to it now blows it the first time
    ring, wave = current_offer_ring(d)
    offer_wave(fx, d, ring, wave, d.plan.remote_wave_size)
    climb_if_late(fx, d)  # late in the lifetime the rung's full wait may not fit
    asked = neighbours_asked(fx.events[at + 1 :])
    if not asked and blown:
        # At or past the whistle nothing else would happen: the whistle and referral
        # rungs only restart their waits, past the last rung only the lifetime's end is
        # left. Staff and the group are called again (`ladder.call_again`).
        call_again(fx, d)
    # The same event, its place (and id) kept, so the group hears it before what followed.
    fx.events[at] = updated(fx.events[at], body=updated(withdrawn, offers_sent=asked))
    return d


def neighbours_asked(events: Sequence[Event]) -> int:
    """How many neighbours `events` offered the request: staff on the whistle and property
    management (both of the whistle's ring) are not neighbours."""
    return sum(
        1
        for e in events
        if isinstance(e.body, OffersSent)
        for o in e.body.offers
        if o.ring is not Ring.WHISTLE
    )


def cancel(fx: Effects, d: RequestDraft, body: CancelRequest) -> RequestDraft | None:
    if d.terminal:
        if d.status is not RequestStatus.CANCELLED:
            reject(fx, d.request_id, "request_closed", detail=d.status.value)
        return None
    stand_down(fx, d, "cancelled", include_assigned=True)
    close(fx, d, RequestStatus.CANCELLED, body.by)
    cancelled = RequestCancelled(by=body.by, reason=body.reason, sealed_note=body.sealed_note)
    fx.emit(cancelled, d.request_id)
    return d


def resolve(fx: Effects, d: RequestDraft, body: ResolveRequest) -> RequestDraft | None:
    if d.terminal:
        if d.status is not RequestStatus.RESOLVED:
            reject(fx, d.request_id, "request_closed", detail=d.status.value)
        return None
    if body.by is Party.HELPER and body.helper_id not in {
        a.helper_id for a in d.active_assignments()
    }:
        reject(fx, d.request_id, "not_assigned", helper_id=body.helper_id)
        return None
    resolve_now(fx, d, body.by, rating=body.rating, note=body.note, sealed_note=body.sealed_note)
    return d


def refer(fx: Effects, d: RequestDraft, body: ReferRequest) -> RequestDraft | None:
    if d.terminal:
        if d.status is not RequestStatus.REFERRED:
            reject(fx, d.request_id, "request_closed", detail=d.status.value)
        return None
    # Handed on, it ends here for neighbours (`ReferRequest`): open offers are stood down.
    # Handed to property or a department, those on their way are told too, as on a
    # cancellation. Handed to 120/110/119 they stay assigned (`keeps_assigned`): someone
    # who has fallen is not left alone until the ambulance comes; the event names them (each
    # is told to go on if they can) and counts those coming, as the ladder's emergency rung
    # does (the group hears "已有邻居在路上，但仍请…").
    keep = keeps_assigned(body.to)
    stand_down(fx, d, "referred", include_assigned=not keep, to=body.to)
    close(fx, d, RequestStatus.REFERRED, Party.STAFF)
    d.referred_to = body.to
    kept = [a for a in d.active_assignments() if a.done_at is None] if keep else []
    referred = RequestReferred(
        to=body.to,
        note=body.note,
        department=body.department,
        sealed_note=body.sealed_note,
        helpers_coming=helpers_coming(d) if keep else 0,
        kept_helper_ids=tuple(a.helper_id for a in kept),
    )
    fx.emit(referred, d.request_id)
    return d


def deadline(fx: Effects, d: RequestDraft, body: FireDeadline) -> RequestDraft | None:
    """The timer fired. Stale (another step is current, or the request ended): no-op."""
    if d.terminal or body.step != d.base.deadline_step:
        return None
    if d.held_until is not None and fx.now < d.held_until:
        # Held: only a staff action (a team called) can have made offers; they expire.
        return d if expire_due_offers(fx, d) else None
    lost = expire_due_offers(fx, d)
    if fx.now >= d.ends_at:
        if ends_unseen(d):
            # Never expired unseen by staff: decided after its end with the whistle not
            # blown (a late deadline), it climbs to the whistle now and ends after its wait.
            if d.held:
                release(fx, d)
            whistle_at_the_end(fx, d)
            return d
        # Before any release: a request a called team filled while held is never
        # released (a filled request has no rung to wait for) and ends here.
        end_of_lifetime(fx, d)
        return d
    if d.held:
        release(fx, d)
        return d
    step_due = d.step_deadline()
    if step_due is not None and fx.now >= step_due:
        advance(fx, d)
    else:
        top_up(fx, d, lost)
    return d
