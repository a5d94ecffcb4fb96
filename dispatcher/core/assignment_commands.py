"""The accepted helper's own buttons: "on my way" and "done".

"Can't come after all" is `WithdrawHelper` (request_commands.helper_withdrew). Service time
is counted here, at "done" - the minutes the helper gave, else the time from accepting to
done (at most to the request's closing, and MAX_MINUTES_SPENT) - and nowhere else: a
request's lifetime never becomes anyone's hours.
"""

from __future__ import annotations

from dispatcher.core.draft import RequestDraft
from dispatcher.core.effects import Effects
from dispatcher.core.ladder import releases_assigned, resolve_now
from dispatcher.core.load import served
from dispatcher.core.request_commands import kept_on, reject
from dispatcher.core.trusted import updated
from schemas.commands import MAX_MINUTES_SPENT, CompleteAssignment, MarkOnMyWay
from schemas.events import AssignmentCompleted, HelperSetOff
from schemas.records import AssignmentRecord, RequestStatus
from schemas.vocab import Party


def _held(fx: Effects, d: RequestDraft, helper_id: str) -> int | None:
    """The index of the helper's active assignment, or None after a rejection."""
    for k, a in enumerate(d.assignments):
        if a.helper_id == helper_id and a.active:
            return k
    reject(fx, d.request_id, "not_assigned", helper_id=helper_id)
    return None


def on_my_way(fx: Effects, d: RequestDraft, body: MarkOnMyWay) -> RequestDraft | None:
    k = _held(fx, d, body.helper_id)
    if k is None:
        return None
    a = d.assignments[k]
    if a.on_way_at is not None or a.done_at is not None:
        return None  # a second tap, or already done: nothing new
    if d.terminal and not kept_on(d):
        reject(fx, d.request_id, "request_closed", helper_id=a.helper_id, detail=d.status.value)
        return None
    d.assignments[k] = updated(a, on_way_at=fx.now)
    remote = d.needs[a.need_index].remote
    fx.emit(
        HelperSetOff(offer_id=a.offer_id, helper_id=a.helper_id, slot=a.slot, remote=remote),
        d.request_id,
    )
    return d


def _minutes(fx: Effects, d: RequestDraft, a: AssignmentRecord, given: int | None) -> int:
    """The minutes given, else accepting to done - but no later than the request closed
    (a helper pressing done a day late did not help all day) and, like typed minutes, at
    most MAX_MINUTES_SPENT. A referral that kept the helper (`kept_on`) is a closing
    too: time past it counts only as typed minutes (no bound on the professionals'
    arrival is known here)."""
    if given is not None:
        return given
    end = fx.now if d.closed_at is None else min(fx.now, d.closed_at)
    worked = round((end - a.assigned_at).total_seconds() / 60)
    return min(MAX_MINUTES_SPENT, max(0, worked))


def complete(fx: Effects, d: RequestDraft, body: CompleteAssignment) -> RequestDraft | None:
    """Done counts even after the request closed (staff resolved it, or its lifetime ran
    out while the helper was still there, or staff referred it to 120/110/119, which keeps
    the helpers: `kept_on`): the help happened, the minutes are theirs. Not after a
    cancellation, or a referral to property or a department: those stood the helper down,
    their assignment ended there (`ladder.releases_assigned`)."""
    k = _held(fx, d, body.helper_id)
    if k is None:
        return None
    a = d.assignments[k]
    if a.done_at is not None:
        return None  # a second tap on "done"
    if releases_assigned(d):
        reject(fx, d.request_id, "request_closed", helper_id=a.helper_id, detail=d.status.value)
        return None
    minutes = _minutes(fx, d, a, body.minutes)
    d.assignments[k] = updated(a, done_at=fx.now, minutes=minutes)
    fx.emit(
        AssignmentCompleted(
            offer_id=a.offer_id,
            helper_id=a.helper_id,
            slot=a.slot,
            minutes=minutes,
            minutes_given=body.minutes is not None,
        ),
        d.request_id,
    )
    fx.update_load(a.helper_id, lambda load, _today: served(load, minutes * 60.0))
    if d.status is RequestStatus.FILLED and all(
        x.done_at is not None for x in d.active_assignments()
    ):  # every slot filled and every helper done: resolved, by them
        resolve_now(fx, d, Party.HELPER, note="every assigned helper reported done")
    return d
