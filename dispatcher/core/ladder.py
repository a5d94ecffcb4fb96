"""The escalation ladder: climbing rung by rung, stand-downs, and how a request ends.

What each rung does is a table, `RUNGS`: a plan step names its ring and its action
(`schemas.plans.RungAction`), and each action is one small step function here: waves of
offers ring by ring, the whistle, the emergency referral. A request the community's quiet
hours would hold pauses through them (`paused_for_quiet_hours`, `resume`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dispatcher.core.community import CommunityPolicy, _wall_time_reached
from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.index import Candidate
from dispatcher.core.load import no_answer
from dispatcher.core.offers import send_offers
from schemas.catalogue import entry
from schemas.events import (
    OfferExpired,
    OffersStoodDown,
    ReferredToEmergency,
    RequestExpired,
    RequestPaused,
    RequestResolved,
    RingEscalated,
    StandDownReason,
    StoodDown,
    WhistleBlown,
)
from schemas.plans import EscalationPlan, LadderStep, RungAction
from schemas.records import OfferRecord, OfferStatus, RequestStatus
from schemas.requests import RequestSpec
from schemas.sealed import Sealed
from schemas.vocab import EMERGENCY_SERVICES, Party, ReferralTarget, Ring

# --- offers ----------------------------------------------------------------------------


def ask(fx: Effects, d: RequestDraft, found: list[Candidate], **kw: Any) -> list[str]:
    """`send_offers`, for candidates searched past `RequestDraft.not_to_ask`: a helper stood
    down as covered and asked again on a reopened slot keeps one offer record
    (`RequestDraft.supersede`)."""
    sent = send_offers(fx, d, found, **kw)
    d.supersede(sent)
    return sent


def offer_wave(
    fx: Effects, d: RequestDraft, ring: Ring, per_slot: int, remote_per_slot: int
) -> None:
    """For each need short of helpers: new offers, `per_slot` per open slot. Presence
    needs read rings up to `ring`; remote-capable needs read the whole community. A
    wave that leaves a need with nobody asked climbs on at once (a rung's own wave, or
    the re-wave after a withdrawal)."""
    exclude = d.not_to_ask()
    for i in d.open_needs():
        need, remote = d.needs[i], d.remote[i]
        open_slots = d.open_slots(i)
        want = (remote_per_slot if remote else per_slot) * open_slots
        max_ring = Ring.COMMUNITY if remote else ring
        if open_slots >= 2 and not remote:  # several people: a team of the ring too
            exclude.update(offer_teams(fx, d, ring, 1, exclude))
        seed = d.ctx.window_seed(d.step, i, len(d.offers))
        found = fx.state.index.search(d.ctx, need, max_ring, want, exclude, seed)
        exclude.update(ask(fx, d, found))
    widen_if_starved(fx, d)


def offer_teams(
    fx: Effects, d: RequestDraft, ring: Ring, limit: int, exclude: set[str]
) -> list[str]:
    """Offer up to `limit` teams (to their leaders) whose leader lives within `ring`."""
    found = fx.state.index.teams(d.ctx, ring, limit, exclude)
    if not found:
        return []
    teams = {t.leader.helper_id: (t.team_id, t.size) for t in found}
    return ask(fx, d, [t.leader for t in found], any_presence=True, teams=teams)


def offer_first_responders(fx: Effects, d: RequestDraft) -> None:
    """党员楼长 of the request's building, in the first wave, for any presence need."""
    if all(d.remote[i] for i in d.open_needs()):
        return
    found = fx.state.index.first_responders(d.ctx, d.not_to_ask())
    if found:
        ask(fx, d, found, any_presence=True)


def offer_property(fx: Effects, d: RequestDraft) -> None:
    """Property management (物业) on duty, in the first wave, when the request is theirs
    too (`spec.notify_property`: gas, fire, a lift, a burst pipe): as many as the whistle
    would reach, and like staff at the whistle they may fill any slot. Neither the whistle
    nor the group hears of it: the neighbours' rings climb as before (`beside_ladder`)."""
    if not d.spec.notify_property or d.status is not RequestStatus.OPEN:
        return
    wanted = whistle_wave_size(d.plan)
    found = fx.state.index.property_on_duty(d.ctx, wanted, d.not_to_ask())
    ask(fx, d, found, whistle=True)


def whistle_wave_size(plan: EscalationPlan) -> int:
    """How many staff the plan's whistle offers; one for a plan without a whistle."""
    return next((s.wave_size for s in plan.steps if s.action is RungAction.WHISTLE), 1)


def beside_ladder(d: RequestDraft, o: OfferRecord) -> bool:
    """An offer of the whistle ring made before the whistle: property management offered
    in the first wave (`offer_property`). It waits beside the neighbours' rings: it does
    not hold them back (`starved`), and when lost no neighbour replaces it (`lost_needs`)."""
    return o.ring is Ring.WHISTLE and not d.whistle_blown


def lost_needs(d: RequestDraft, o: OfferRecord) -> set[int]:
    """The needs a lost offer (declined, failed, no answer) leaves for a replacement."""
    return set() if beside_ladder(d, o) else set(o.need_indexes)


def current_offer_ring(d: RequestDraft) -> tuple[Ring, int]:
    """The ring (and wave size) replacements come from: the current rung if it is an
    offer ring, else the whole community (the whistle has gone out already)."""
    steps = d.plan.steps
    if d.step < len(steps) and _offers(steps[d.step]):
        return steps[d.step].ring, steps[d.step].wave_size
    waves = [s.wave_size for s in steps if _offers(s)] or [1]
    return Ring.COMMUNITY, waves[-1]


def top_up(fx: Effects, d: RequestDraft, need_indexes: set[int]) -> None:
    """One replacement offer per lost offer (declined, failed, no answer)."""
    if d.status is not RequestStatus.OPEN:
        return
    wanted = [i for i in sorted(need_indexes) if d.open_slots(i) > 0]
    if wanted and paused_for_quiet_hours(fx, d):
        return
    ring, _ = current_offer_ring(d)
    exclude = d.not_to_ask()
    for i in wanted:
        need = d.needs[i]
        max_ring = Ring.COMMUNITY if need.remote else ring
        seed = d.ctx.window_seed("top-up", i, len(d.offers))
        found = fx.state.index.search(d.ctx, need, max_ring, 1, exclude, seed)
        exclude.update(ask(fx, d, found))
    widen_if_starved(fx, d)


def starved(d: RequestDraft) -> bool:
    """Waiting out the current offer rung cannot help: a need in person (presence) has no
    offer waiting for an answer, or no open need has one at all.

    A starved remote need (a nurse or doctor by phone) alone does not count: its search
    read the whole community from the first wave, so a wider ring finds nobody new for it,
    and climbing would only rush the needs in person through every ring, the whistle and
    the group at once. It waits, searched again at each rung, for the whistle at its
    normal time, when staff can help. Unless nothing at all is being waited for (only
    remote needs are open, e.g. a nurse by phone whom nobody can give): then the request
    climbs to the whistle now, as any request with nobody left to ask does."""
    open_needs = d.open_needs()
    idle = idle_needs(d)
    if any(not d.remote[i] for i in idle):
        return True
    return bool(open_needs) and len(idle) == len(open_needs)


def idle_needs(d: RequestDraft) -> list[int]:
    """The open needs no offer is waiting on (property management's beside the ladder
    aside)."""
    pending: set[int] = set()
    # Per offer of the request: the enum members bound once (a read through the class
    # costs ~4x a local) and `not beside_ladder(d, o)` inlined.
    is_open, whistle, blown = OfferStatus.OPEN, Ring.WHISTLE, d.whistle_blown
    for o in d.offers:
        if o.status is is_open and (blown or o.ring is not whistle):
            pending.update(o.need_indexes)
    return [i for i in d.open_needs() if i not in pending]


def widen_if_starved(fx: Effects, d: RequestDraft) -> None:
    """Waiting out a ring in which nobody is left to answer only loses time: when an
    offer ring leaves the request starved (the ring is empty, or its last candidate
    declined or could not be reached), climb to the next rung now."""
    steps = d.plan.steps
    if (
        d.status is RequestStatus.OPEN
        and d.step < len(steps)
        and _offers(steps[d.step])
        and starved(d)
    ):
        advance(fx, d)


# --- rungs: one small step function per kind (a plan step names its ring and action) ---


def _offer_rung(fx: Effects, d: RequestDraft, rung: LadderStep) -> None:
    first = d.step == 0
    if first:
        offer_first_responders(fx, d)
    remote = d.plan.remote_wave_size if first else rung.wave_size
    offer_wave(fx, d, rung.ring, rung.wave_size, remote)
    if first:
        # After the neighbours' wave, so theirs is chosen exactly as without 物业.
        offer_property(fx, d)


def _team_rung(fx: Effects, d: RequestDraft, rung: LadderStep) -> None:
    """Call teams: up to `wave_size` teams of the ring (their leaders accept for n
    members), whatever the number of open slots."""
    if not all(d.remote[i] for i in d.open_needs()):
        offer_teams(fx, d, rung.ring, rung.wave_size, d.not_to_ask())
    widen_if_starved(fx, d)


def _whistle_rung(fx: Effects, d: RequestDraft, rung: LadderStep) -> None:
    """Staff on duty offered the request, the whistle list and the group told
    (`WhistleBlown`). On a request staff have claimed it calls nobody (`calls_staff`): the
    rung passes with its timing, and no offer, push or group message says it came."""
    claimed = not calls_staff(d)
    # Before staff are asked: theirs are offers of the whistle ring, as property's are.
    neighbours_asked = sum(1 for o in d.offers if o.ring is not Ring.WHISTLE)
    sent: list[str] = []
    if not claimed:
        staff = fx.state.index.staff_on_duty(d.ctx, rung.wave_size, d.not_to_ask())
        sent = ask(fx, d, staff, whistle=True)
    d.whistle_blown = True
    # Staff and the group get the whistle's wait, and the rungs after it theirs, however late
    # it blows (decided after an outage, a slot reopened near the end, a hold released late):
    # a whistle with a minute of the lifetime left reaches staff too late to act. On time the
    # plan's waits fit the lifetime and the end stays; it only ever moves later.
    ends_at = fx.now + timedelta(seconds=sum(s.wait_s for s in d.plan.steps[d.step :]))
    # Never in the night for a request quiet hours would hold: it ends as they end, as a
    # pause moves its end (`paused_for_quiet_hours`). Blown at 20:30 with 4 h, a chore with
    # no offer out to pause it expired at 00:30, the group told in the night.
    night_ends = fx.state.policy(d.spec.community_id).quiet_until(d.spec, ends_at)
    if night_ends is not None:
        ends_at = night_ends
    if ends_at > d.ends_at:
        d.ends_at = ends_at
    if claimed:
        return
    fx.emit(
        WhistleBlown(
            step=d.step,
            staff_helper_ids=tuple(sent),
            category=d.spec.category,
            urgency=d.spec.urgency,
            building_label=d.spec.place.building_label(),
            open_slots=sum(d.open_slots(i) for i in range(len(d.needs))),
            neighbours_asked=neighbours_asked,
            emergency_number=d.spec.emergency(),
        ),
        d.request_id,
    )


def _refer_rung(fx: Effects, d: RequestDraft, rung: LadderStep) -> None:
    """Staff (the duty officer, else the grid worker) asked to hand the request on, the
    group told to call (`ReferredToEmergency`). Not on a request staff have claimed
    (`calls_staff`): whoever claimed it hands it on if need be (`ReferRequest`); the rung's
    wait runs as on any other request."""
    if not calls_staff(d):
        return
    # The number the requester was told to call at intake and at the whistle (a fire
    # reported as `other`: 119; every life-threatening request has one), else where this
    # kind of request is handed on (a repair: property).
    number = d.spec.emergency()
    to = ReferralTarget(number.value) if number is not None else entry(d.spec.category).referral
    fx.emit(ReferredToEmergency(to=to, step=d.step, helpers_coming=helpers_coming(d)), d.request_id)


def calls_staff(d: RequestDraft) -> bool:
    """Do the whistle and referral rungs call people (staff on duty, the community's
    whistle list)? Not once staff have claimed the request: someone responsible has it
    (as `staff_commands.staff_not_reached` treats it). Neighbours' rungs run on: a claim
    does not stop neighbours coming."""
    return d.claimed_by is None


def helpers_coming(d: RequestDraft) -> int:
    """How many assigned neighbours are coming in person and not done: not a remote
    helper, who calls."""
    return sum(
        a.slots_held
        for a in d.active_assignments()
        if not d.remote[a.need_index] and a.done_at is None
    )


@dataclass(frozen=True, slots=True)
class Rung:
    run: Callable[[Effects, RequestDraft, LadderStep], None]
    # Waits on offers in its ring: replacements for lost offers come from it, and when
    # nobody in it is left to answer the ladder climbs at once.
    offers: bool = False


RUNGS: dict[RungAction, Rung] = {
    RungAction.OFFER: Rung(_offer_rung, offers=True),
    RungAction.WHISTLE: Rung(_whistle_rung),
    RungAction.REFER: Rung(_refer_rung),
    RungAction.TEAM: Rung(_team_rung, offers=True),
}


def _offers(rung: LadderStep) -> bool:
    return RUNGS[rung.action].offers


def run_step(fx: Effects, d: RequestDraft) -> None:
    rung = d.plan.steps[d.step]
    RUNGS[rung.action].run(fx, d, rung)


def advance(fx: Effects, d: RequestDraft) -> None:
    """Climb one rung, and on while the whistle would come too late
    (`climb_if_late`). Past the last rung: an unanswered request expires; a partly
    answered one stays open for its assigned helpers until its lifetime ends. Never
    while held for quiet hours (a staff-called team's answer or lost offer leaves a
    need starved): the release starts from the rung it was held at. Nor into them, for a
    request they would hold: it pauses (`paused_for_quiet_hours`) and climbs at their end
    (`resume`)."""
    _climb(fx, d)
    climb_if_late(fx, d)


def climb_if_late(fx: Effects, d: RequestDraft) -> None:
    """Every plan ends with staff on duty and the group (the whistle): an open request
    must not expire on a neighbours' rung unseen by them. A plan's waits fit its lifetime,
    but a rung that starts late does not: a slot reopened (a withdrawal, a no-show) gives
    the current rung its full wait again, a hold released after its time starts the
    ladder afresh, a timer may fire late. So while the rungs left (the current one's wait
    from its start, and every later one's) no longer fit before the end of the lifetime,
    climb on, each rung's wave sent as usual, up to the whistle at the latest: staff and
    the group hear of it with the whistle's own wait, the end moved later if need be
    (`_whistle_rung`)."""
    _climb_to_whistle(fx, d, only_if_late=True)


def _climb_to_whistle(fx: Effects, d: RequestDraft, *, only_if_late: bool) -> None:
    """Climb rung by rung up to the whistle; `only_if_late`: while the rungs left no longer
    fit before the end."""
    whistle = whistle_step(d.plan)
    while (
        whistle is not None
        and d.step < whistle
        and not d.whistle_blown
        and not d.held
        and d.status is RequestStatus.OPEN
        and (not only_if_late or _ladder_left_ends(d) > d.ends_at)
    ):
        _climb(fx, d)


def call_again(fx: Effects, d: RequestDraft) -> None:
    """A slot reopened at or past the whistle (a withdrawal) and its re-wave asked nobody
    new: the ladder's own waits would only restart with nobody asked (a whistle or
    referral rung waits again; past the last rung nothing is left but the end of the
    lifetime, hours away for a critical request). So the whistle blows again (staff on
    duty, the whistle list, the group) with a fresh wait, and then, for a plan with a
    referral rung after it, that rung is reached now, as the ladder reaches it, its wait
    afresh; a life-threatening request on a plan without one is referred at once too
    (`spec.emergency()`): the group hears to call 120/110/119 again, not that neighbours
    are being asked. Not while held (quiet hours: the ladder goes on at their end)."""
    whistle = whistle_step(d.plan)
    if whistle is None or d.step < whistle or d.status is not RequestStatus.OPEN or d.held:
        return
    steps = d.plan.steps
    d.step = whistle
    d.step_started_at = fx.now
    run_step(fx, d)
    refer = next(
        (k for k in range(whistle + 1, len(steps)) if steps[k].action is RungAction.REFER), None
    )
    if refer is None:
        if d.spec.emergency() is not None:
            _refer_rung(fx, d, steps[whistle])
        return
    while d.step < refer and d.status is RequestStatus.OPEN and not d.held:
        _climb(fx, d)


def ends_unseen(d: RequestDraft) -> bool:
    """Ending now, the request would expire without its plan's whistle: open, nobody
    assigned (with someone assigned it closes as resolved), the whistle not blown yet."""
    whistle = whistle_step(d.plan)
    return (
        whistle is not None
        and d.step <= whistle
        and not d.whistle_blown
        and d.status is RequestStatus.OPEN
        and not d.active_assignments()
    )


def whistle_at_the_end(fx: Effects, d: RequestDraft) -> None:
    """The end of the lifetime came before the whistle (`ends_unseen`): a deadline decided
    late, after the end (a command decided before the timer caught up after an outage moves
    the overdue deadline to its own time). Instead of expiring unseen, climb to the whistle
    now, each rung's wave sent as `climb_if_late` sends it; the whistle blown after the end
    moves the end (`_whistle_rung`). A held request is released first
    (`request_commands.deadline`). Not `climb_if_late`: the current rung's overdue wait
    counts from its start, which may well fit before the end that has passed."""
    _climb_to_whistle(fx, d, only_if_late=False)
    if not d.whistle_blown and not d.held:  # no rung left to climb: not expected
        end_of_lifetime(fx, d)  # (paused for quiet hours: the whistle blows at their end)


def whistle_step(plan: EscalationPlan) -> int | None:
    """The index of the plan's whistle rung; None for a plan without one."""
    return next((k for k, s in enumerate(plan.steps) if s.action is RungAction.WHISTLE), None)


def _ladder_left_ends(d: RequestDraft) -> datetime:
    """When the ladder would end from here: the current rung's wait from its start, then
    every later rung's."""
    left = sum(s.wait_s for s in d.plan.steps[d.step :])
    return d.step_started_at + timedelta(seconds=left)


def _climb(fx: Effects, d: RequestDraft) -> None:
    if paused_for_quiet_hours(fx, d):
        return
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
            lost.update(lost_needs(d, o))
    return lost


# --- quiet hours: a request they would hold pauses through them --------------------------


def paused_for_quiet_hours(fx: Effects, d: RequestDraft) -> bool:
    """Is the request held (`d.held`: for quiet hours at submission, or paused)? An open
    one climbing its ladder is paused now if the community's quiet hours would hold it
    (`CommunityPolicy.quiet_until`: normal or low, not life-threatening): called where the
    ladder would send something new (a rung, a replacement offer, a re-wave), so nobody is
    asked for a chore at night. Until they end, nothing new goes out (`send_offers` sends
    a held request nothing staff do not call themselves; `_climb` climbs no rung); offers
    already out can still be answered; at their end the timer's deadline goes on
    (`resume`). The group is told once (`RequestPaused`)."""
    if d.held:
        return True
    if d.status is not RequestStatus.OPEN:
        return False
    policy = fx.state.policy(d.spec.community_id)
    until = policy.quiet_until(d.spec, fx.now)
    if until is None:
        return False
    # Past the last rung too (its wait ran out, helpers assigned, a slot reopened or an
    # offer lost in the night): deferred like a rung, its replacement sent at their end
    # (`resume`), not skipped for good.
    d.held_until = until  # the step's deadline until then (`RequestDraft.step_deadline`)
    # Past its end (decided late, after an outage): it ends, after the whistle, once they end.
    d.ends_at = max(d.ends_at, until)
    fx.emit(
        RequestPaused(until=until, local_time=policy.local_time(until), step=d.step),
        d.request_id,
    )
    return True


def paused(d: RequestDraft) -> bool:
    """Held after its ladder started (`paused_for_quiet_hours`), not at submission: its rung
    started before the hold's end (a request held at submission starts its first rung at
    the hold's end, `request_commands.submit`, and keeps that start while held)."""
    return d.held_until is not None and d.step_started_at < d.held_until


def resume(fx: Effects, d: RequestDraft) -> None:
    """Quiet hours over: the paused ladder goes on where it paused. A rung whose wait ran
    out in the night climbs now (the next rung, with its full wait, and on if late: the
    request's end is never in quiet hours, `lifetime_end`); a rung with wait left keeps
    its own deadline, and the needs left without an offer waiting (lost in the night) get
    one replacement each, as a top-up gives; so do they past the last rung (no rung left
    to climb: a slot reopened or an offer lost in the night)."""
    d.held_until = None
    step_due = d.step_deadline()
    if step_due is not None and fx.now >= step_due:
        advance(fx, d)
    else:
        top_up(fx, d, set(idle_needs(d)))


def lifetime_end(
    policy: CommunityPolicy, spec: RequestSpec, starts: datetime, seconds: float
) -> datetime:
    """When a request going out at `starts` ends: `seconds` of its lifetime, the community's
    quiet hours not counted for a request they would hold (its ladder pauses through them,
    `paused_for_quiet_hours`). So it never ends in the night (nor as it begins), and a
    ladder that paused still fits its lifetime when it goes on. Other requests (and
    communities without quiet hours): `starts` + `seconds`."""
    at, left = starts, timedelta(seconds=seconds)
    while True:
        at = policy.quiet_until(spec, at) or at
        quiet = _next_quiet_start(policy, at)
        if quiet is None or policy.quiet_until(spec, quiet) is None or at + left < quiet:
            return at + left  # (one ending as they begin ends as they end)
        left -= quiet - at
        at = quiet


def _next_quiet_start(policy: CommunityPolicy, at: datetime) -> datetime | None:
    """The first instant after `at` (outside quiet hours) at which they begin."""
    start = policy.quiet_start
    if start is None:
        return None
    local = at.astimezone(policy.zone)
    day = local.date() + timedelta(days=1 if local.time().replace(tzinfo=None) >= start else 0)
    return _wall_time_reached(datetime.combine(day, start, tzinfo=policy.zone), at)


# --- endings ---------------------------------------------------------------------------


def stand_down(
    fx: Effects,
    d: RequestDraft,
    reason: StandDownReason,
    *,
    only_covered: bool = False,
    include_assigned: bool = False,
    only_helper: str | None = None,
    to: ReferralTarget | None = None,
) -> None:
    """Tell holders of open offers they are no longer needed ("已有邻居接手，谢谢").
    `only_covered`: just those whose needs are all filled (after an accept), then, if
    the accept left a need unfilled with nobody asked (a partial fill that took the
    ring's last offer), climb now. `include_assigned`: also the helpers on their way (a
    cancellation). `only_helper`: just that helper's offer. `to`: a referral's target,
    named in the event (the helpers are told 已转交物业 rather than 专业救援)."""
    open_needs = set(d.open_needs())
    # One event for all of them (each helper still gets their own push): most of a busy
    # worker's events were single stand-downs, each its own JSON, log row and decoding.
    stood: list[StoodDown] = []
    for i, o in enumerate(d.offers):
        if o.status is not OfferStatus.OPEN:
            continue
        if only_covered and open_needs.intersection(o.need_indexes):
            continue
        if only_helper is not None and o.helper_id != only_helper:
            continue
        d.set_offer(i, status=OfferStatus.STOOD_DOWN, closed_at=fx.now)
        stood.append(StoodDown(offer_id=o.offer_id, helper_id=o.helper_id))
    if include_assigned:
        stood.extend(
            StoodDown(offer_id=a.offer_id, helper_id=a.helper_id, was_assigned=True)
            for a in d.active_assignments()
        )
    if stood:
        fx.emit(OffersStoodDown(reason=reason, offers=tuple(stood), to=to), d.request_id)
    if only_covered:
        widen_if_starved(fx, d)


# The closings that stand down the helpers still assigned too (`include_assigned`: "无需再
# 来"): a cancellation, a referral. Their assignments end there, so a "done" pressed later
# (a page left open) is no service (assignment_commands.complete). Except a referral to an
# emergency service (`EMERGENCY_SERVICES`), which keeps them: `releases_assigned`.
RELEASES_ASSIGNED: frozenset[RequestStatus] = frozenset(
    {RequestStatus.CANCELLED, RequestStatus.REFERRED}
)


def keeps_assigned(to: ReferralTarget) -> bool:
    """Does a staff referral to `to` keep the helpers assigned (an emergency service)?"""
    return to in EMERGENCY_SERVICES


def releases_assigned(d: RequestDraft) -> bool:
    """Did the request's closing stand its assigned helpers down: a cancellation, or a
    referral anywhere but an emergency service (`keeps_assigned`)."""
    if d.status is RequestStatus.REFERRED:
        return d.referred_to is None or not keeps_assigned(d.referred_to)
    return d.status in RELEASES_ASSIGNED


# A deactivated helper's offer is stood down with the reason whose push says "无需再来"
# (no need to come): the contract (`StandDownReason`) has no reason of its own for it yet.
LEFT_THE_ROSTER: StandDownReason = "covered"


def drop_helper(fx: Effects, d: RequestDraft, helper_id: str) -> bool:
    """The helper left the roster (deactivated): their open offer is stood down and,
    like a declined one, replaced. Whether there was one to drop."""
    lost = [o for o in d.offers if o.helper_id == helper_id and o.status is OfferStatus.OPEN]
    if not lost:
        return False
    stand_down(fx, d, LEFT_THE_ROSTER, only_helper=helper_id)
    top_up(fx, d, {i for o in lost for i in lost_needs(d, o)})
    return True


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
    resolve_now(
        fx, d, Party.SYSTEM, note="closed automatically at the end of the request's lifetime"
    )


def resolve_now(
    fx: Effects,
    d: RequestDraft,
    by: Party,
    *,
    rating: int | None = None,
    note: str = "",
    sealed_note: Sealed | None = None,
) -> None:
    """Close as resolved and say so. Counts nobody's service time: that comes from each
    helper's "done" (assignment_commands.py)."""
    stand_down(fx, d, "resolved")
    close(fx, d, RequestStatus.RESOLVED, by)
    fx.emit(
        RequestResolved(
            by=by,
            helper_ids=tuple(a.helper_id for a in d.active_assignments()),
            duration_s=(fx.now - d.base.created_at).total_seconds(),
            rating=rating,
            note=note,
            sealed_note=sealed_note,
        ),
        d.request_id,
    )
