"""The escalation ladder: sending waves of offers ring by ring, the whistle, the
emergency referral, stand-downs, and how a request ends."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.eligibility import fits
from dispatcher.core.index import Candidate
from dispatcher.core.load import no_answer, offered, served
from dispatcher.core.trusted import builder
from schemas.events import (
    OfferExpired,
    OfferSent,
    OfferStoodDown,
    ReferredToEmergency,
    RequestExpired,
    RequestResolved,
    RingEscalated,
    StandDownReason,
    WhistleBlown,
    offer_id_for,
)
from schemas.plans import OFFER_RINGS
from schemas.records import HelperLoad, OfferRecord, OfferStatus, RequestStatus
from schemas.vocab import Category, EmergencyNumber, Party, ReferralTarget, Ring


def emergency_number_for(category: Category) -> EmergencyNumber:
    if category is Category.LOST_PERSON:
        return EmergencyNumber.POLICE
    if category is Category.REPAIR:
        return EmergencyNumber.FIRE  # a life-threatening repair: gas, fire, electricity
    return EmergencyNumber.AMBULANCE


def referral_target_for(category: Category) -> ReferralTarget:
    if category is Category.REPAIR:
        return ReferralTarget.PROPERTY
    if category is Category.LOST_PERSON:
        return ReferralTarget.POLICE
    return ReferralTarget.AMBULANCE


# --- offers ----------------------------------------------------------------------------

_offer_record = builder(OfferRecord)
_offer_sent = builder(OfferSent)


def _send_offers(
    fx: Effects, d: RequestDraft, candidates: list[Candidate], whistle: bool = False
) -> list[str]:
    sent: list[str] = []
    if not candidates:
        return sent
    open_needs = d.open_needs()
    # The same for every offer of this wave: computed once, not per helper.
    expires_at = fx.now + timedelta(seconds=d.plan.offer_ttl_s)
    spec = d.spec
    building_label = spec.place.building_label()
    helpers_needed = sum(n.count for n in d.needs)  # spec.total_slots(), without re-deriving needs
    asked: dict[tuple[int, ...], tuple[tuple[str, ...], bool]] = {}
    for cand in candidates:
        entry = fx.state.index.entries[cand.helper_id]
        if whistle:
            need_indexes = tuple(open_needs)  # staff can fill any slot
        else:
            need_indexes = tuple(i for i in open_needs if fits(entry, d.needs[i], cand.ring))
        if not need_indexes:
            continue
        skills_remote = asked.get(need_indexes)
        if skills_remote is None:
            skills_remote = asked[need_indexes] = (
                tuple(dict.fromkeys(s.value for i in need_indexes for s in d.needs[i].skills)),
                all(d.needs[i].remote for i in need_indexes),
            )
        # Built unvalidated (`core.trusted`): every value is of its field's type already.
        offer = _offer_record(
            offer_id=offer_id_for(d.request_id, cand.helper_id),
            helper_id=cand.helper_id,
            need_indexes=need_indexes,
            ring=cand.ring,
            step=d.step,
            sent_at=fx.now,
            expires_at=expires_at,
        )
        d.offers.append(offer)
        fx.emit(
            _offer_sent(
                offer_id=offer.offer_id,
                helper_id=offer.helper_id,
                ring=offer.ring,
                step=offer.step,
                expires_at=expires_at,
                category=spec.category,
                urgency=spec.urgency,
                building_label=building_label,
                helpers_needed=helpers_needed,
                skills=skills_remote[0],
                remote=skills_remote[1],
            ),
            d.request_id,
        )
        fx.update_load(cand.helper_id, lambda load, today: offered(load, fx.now, today))
        sent.append(cand.helper_id)
    return sent


def offer_wave(
    fx: Effects, d: RequestDraft, ring: Ring, per_slot: int, remote_per_slot: int
) -> None:
    """For each need short of helpers: new offers, `per_slot` per open slot. Presence
    needs read rings up to `ring`; remote-capable needs read the whole community. A
    wave that leaves a need with nobody asked climbs on at once (a rung's own wave, or
    the re-wave after a withdrawal)."""
    exclude = d.offered_helpers()
    for i in d.open_needs():
        need = d.needs[i]
        want = (remote_per_slot if need.remote else per_slot) * d.open_slots(i)
        max_ring = Ring.COMMUNITY if need.remote else ring
        seed = d.ctx.window_seed(d.step, i, len(d.offers))
        found = fx.state.index.search(d.ctx, need, max_ring, want, exclude, seed)
        exclude.update(_send_offers(fx, d, found))
    widen_if_starved(fx, d)


def current_offer_ring(d: RequestDraft) -> tuple[Ring, int]:
    """The ring (and wave size) replacements come from: the current rung if it is an
    offer ring, else the whole community (the whistle has gone out already)."""
    steps = d.plan.steps
    if d.step < len(steps) and steps[d.step].ring in OFFER_RINGS:
        return steps[d.step].ring, steps[d.step].wave_size
    waves = [s.wave_size for s in steps if s.ring in OFFER_RINGS] or [1]
    return Ring.COMMUNITY, waves[-1]


def top_up(fx: Effects, d: RequestDraft, need_indexes: set[int]) -> None:
    """One replacement offer per lost offer (declined, failed, no answer)."""
    if d.status is not RequestStatus.OPEN:
        return
    ring, _ = current_offer_ring(d)
    exclude = d.offered_helpers()
    for i in sorted(need_indexes):
        if d.open_slots(i) <= 0:
            continue
        need = d.needs[i]
        max_ring = Ring.COMMUNITY if need.remote else ring
        seed = d.ctx.window_seed("top-up", i, len(d.offers))
        found = fx.state.index.search(d.ctx, need, max_ring, 1, exclude, seed)
        exclude.update(_send_offers(fx, d, found))
    widen_if_starved(fx, d)


def starved(d: RequestDraft) -> bool:
    """Some unfilled need has no offer waiting for an answer."""
    pending: set[int] = set()
    for o in d.offers:
        if o.status is OfferStatus.OPEN:
            pending.update(o.need_indexes)
    return any(i not in pending for i in d.open_needs())


def widen_if_starved(fx: Effects, d: RequestDraft) -> None:
    """Waiting out a ring in which nobody is left to answer only loses time: when an
    offer ring leaves a need with no pending offer (the ring is empty, or its last
    candidate declined or could not be reached), climb to the next rung now."""
    steps = d.plan.steps
    if (
        d.status is RequestStatus.OPEN
        and d.step < len(steps)
        and steps[d.step].ring in OFFER_RINGS
        and starved(d)
    ):
        advance(fx, d)


def blow_whistle(fx: Effects, d: RequestDraft, wave_size: int) -> None:
    staff = fx.state.index.staff_on_duty(d.ctx, wave_size, d.offered_helpers())
    sent = _send_offers(fx, d, staff, whistle=True)
    d.whistle_blown = True
    fx.emit(
        WhistleBlown(
            step=d.step,
            staff_helper_ids=tuple(sent),
            category=d.spec.category,
            urgency=d.spec.urgency,
            building_label=d.spec.place.building_label(),
            open_slots=sum(d.open_slots(i) for i in range(len(d.needs))),
        ),
        d.request_id,
    )


def run_step(fx: Effects, d: RequestDraft) -> None:
    rung = d.plan.steps[d.step]
    if rung.ring in OFFER_RINGS:
        remote = d.plan.remote_wave_size if d.step == 0 else rung.wave_size
        offer_wave(fx, d, rung.ring, rung.wave_size, remote)
    elif rung.ring is Ring.WHISTLE:
        blow_whistle(fx, d, rung.wave_size)
    else:
        fx.emit(
            ReferredToEmergency(to=referral_target_for(d.spec.category), step=d.step),
            d.request_id,
        )


def advance(fx: Effects, d: RequestDraft) -> None:
    """Climb one rung. Past the last rung: an unanswered request expires; a partly
    answered one stays open for its assigned helpers until its lifetime ends."""
    steps = d.plan.steps
    previous = steps[d.step].ring
    d.step += 1
    d.step_started_at = fx.now
    if d.step < len(steps):
        fx.emit(
            RingEscalated(from_ring=previous, to_ring=steps[d.step].ring, step=d.step),
            d.request_id,
        )
        run_step(fx, d)
    elif not d.active_assignments():
        expire(fx, d)


# --- time ------------------------------------------------------------------------------


def expire_due_offers(fx: Effects, d: RequestDraft) -> set[int]:
    """Open offers past their time count as no answer; returns the needs they were for."""
    lost: set[int] = set()
    for i, o in enumerate(d.offers):
        if o.status is OfferStatus.OPEN and o.expires_at <= fx.now:
            d.set_offer(i, status=OfferStatus.EXPIRED, closed_at=fx.now)
            fx.emit(OfferExpired(offer_id=o.offer_id, helper_id=o.helper_id), d.request_id)
            fx.update_load(o.helper_id, lambda load, _today: no_answer(load))
            lost.update(o.need_indexes)
    return lost


# --- endings ---------------------------------------------------------------------------


def stand_down(
    fx: Effects,
    d: RequestDraft,
    reason: StandDownReason,
    *,
    only_covered: bool = False,
    include_assigned: bool = False,
) -> None:
    """Tell holders of open offers they are no longer needed ("已有邻居接手，谢谢").
    `only_covered`: just those whose needs are all filled (after an accept), then, if
    the accept left a need unfilled with nobody asked (a partial fill that took the
    ring's last offer), climb now. `include_assigned`: also the helpers on their way (a
    cancellation)."""
    open_needs = set(d.open_needs())
    for i, o in enumerate(d.offers):
        if o.status is not OfferStatus.OPEN:
            continue
        if only_covered and open_needs.intersection(o.need_indexes):
            continue
        d.set_offer(i, status=OfferStatus.STOOD_DOWN, closed_at=fx.now)
        fx.emit(
            OfferStoodDown(offer_id=o.offer_id, helper_id=o.helper_id, reason=reason),
            d.request_id,
        )
    if include_assigned:
        for a in d.active_assignments():
            fx.emit(
                OfferStoodDown(
                    offer_id=a.offer_id, helper_id=a.helper_id, reason=reason, was_assigned=True
                ),
                d.request_id,
            )
    if only_covered:
        widen_if_starved(fx, d)


def close(fx: Effects, d: RequestDraft, status: RequestStatus, by: Party | None) -> None:
    d.status = status
    d.closed_at = fx.now
    d.closed_by = by


def expire(fx: Effects, d: RequestDraft) -> None:
    stand_down(fx, d, "expired")
    close(fx, d, RequestStatus.EXPIRED, Party.SYSTEM)
    fx.emit(RequestExpired(offers_sent=len(d.offers)), d.request_id)


def end_of_lifetime(fx: Effects, d: RequestDraft) -> None:
    """The hard bound: with helpers assigned the request closes as resolved (by the
    system), otherwise it expires."""
    if not d.active_assignments():
        expire(fx, d)
        return
    stand_down(fx, d, "resolved")
    credit_service(fx, d)
    close(fx, d, RequestStatus.RESOLVED, Party.SYSTEM)
    fx.emit(
        RequestResolved(
            by=Party.SYSTEM,
            helper_ids=tuple(a.helper_id for a in d.active_assignments()),
            duration_s=(fx.now - d.base.created_at).total_seconds(),
            note="closed automatically at the end of the request's lifetime",
        ),
        d.request_id,
    )


def credit_service(fx: Effects, d: RequestDraft) -> None:
    """Service time counts towards each assigned helper's volunteer hours."""
    for a in d.active_assignments():
        seconds = (fx.now - a.assigned_at).total_seconds()
        fx.update_load(a.helper_id, partial(_served, seconds=seconds))


def _served(load: HelperLoad, _today: date, *, seconds: float) -> HelperLoad:
    return served(load, seconds)
