"""One critical errand in person at a time: a helper holding an active in-person assignment
(accepted, not done, not withdrawn or a no-show, its request not closed) is offered no
other request's in-person need and may not accept one; phone needs stay theirs to take.
Someone on the way to a fallen neighbour who takes a second "someone collapsed" leaves its
requester waiting for nobody.

The holds are the helper record's (`HelperState.presence`), kept from each request's record
whenever a decision changes it (`sync`), whatever changed it: an accept, "done", a
withdrawal or a staff no-show, a cancellation, a resolution, a referral, the end of the
lifetime. Stored with the helper, a restart reads them back; derived from the command and
the stored records only, a replay makes the same.

A hold blocks only a request no more urgent than the one held (`rank_of`: life-threatening
or critical > urgent > normal > low): a chore never keeps its helper from an urgent or
critical request (nor refuses their accept of one, nor stands their offer of one down); a
critical errand still blocks another critical one (the hoarding this rule is for). Each
lasts at most `HOLD_CAP` after the accept, and at latest to its request's end (`ends_at`);
a referral to 120/110/119 keeps its helpers (they stay with the person until the
ambulance comes) but no timer closes it after, so the hold lapses by time there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatcher.core.trusted import trusted, updated
from schemas.records import HelperState, PresenceHold, RequestState, RequestStatus
from schemas.requests import RequestSpec
from schemas.vocab import EMERGENCY_SERVICES, Urgency

_LIVE = frozenset({RequestStatus.OPEN, RequestStatus.FILLED})

# Ranks, least urgent first; a hold blocks a request of its own rank or below.
RANK_CRITICAL = 3
RANKS = range(RANK_CRITICAL + 1)
_RANK_OF_URGENCY = {Urgency.LOW: 0, Urgency.NORMAL: 1, Urgency.URGENT: 2, Urgency.CRITICAL: 3}

# How long after the accept a hold lasts at most. An errand in person takes an hour or two;
# a request lives up to 72 h (low), and a helper who never presses 已完成 must not be kept
# from every like request for days. Three hours covers a hospital run with the wait.
HOLD_CAP = timedelta(hours=3)

# "No hold blocks this rank": before any `now`, so `now < it` is false.
_NEVER = datetime.min.replace(tzinfo=UTC)

Hold = tuple[datetime, int]  # until, rank


def rank_of(spec: RequestSpec) -> int:
    """How urgent a request is, for holds: a life-threatening one (the emergency number
    advised, whatever urgency was given) ranks as critical."""
    if spec.is_life_threatening():
        return RANK_CRITICAL
    return _RANK_OF_URGENCY[spec.urgency]


def blocks(hold_rank: int, rank: int) -> bool:
    """Does a hold of `hold_rank` keep its helper from a request of `rank`: only one no
    more urgent than the held request."""
    return rank <= hold_rank


def keeps_helpers(request: RequestState) -> bool:
    """Are the request's assigned helpers still on it: live, or referred to an emergency
    service, which keeps them (`ladder.keeps_assigned`)."""
    if request.status in _LIVE:
        return True
    return request.status is RequestStatus.REFERRED and request.referred_to in EMERGENCY_SERVICES


def holders(request: RequestState, remote: tuple[bool, ...]) -> dict[str, Hold]:
    """Helper id → (until, rank), for each helper holding an in-person assignment of
    `request` (`remote[i]`: its need i is by phone). A leader who took slots for their team
    holds it as one; each member their leader named holds their own."""
    if not request.assignments or not keeps_helpers(request):
        return {}
    rank = rank_of(request.spec)
    return {
        a.helper_id: (min(request.ends_at, a.assigned_at + HOLD_CAP), rank)
        for a in request.assignments
        if a.active and a.done_at is None and not remote[a.need_index]
    }


def holds_elsewhere(helper: HelperState, request_id: str, now: datetime, rank: int) -> bool:
    """Does the helper hold an in-person assignment on another request at `now` that keeps
    them from a request of `rank`?"""
    return any(
        h.request_id != request_id and h.until > now and blocks(h.rank, rank)
        for h in helper.presence
    )


def until_by_rank(helper: HelperState) -> tuple[datetime, ...] | None:
    """Per rank of a request searched for, until when the helper's holds keep them from it
    (the latest end of those that block it; `_NEVER` for none): a search reads one item and
    compares it with `now`. None without any hold."""
    if not helper.presence:
        return None
    return tuple(
        max((h.until for h in helper.presence if blocks(h.rank, r)), default=_NEVER) for r in RANKS
    )


def with_hold(
    helper: HelperState, request_id: str, hold: Hold | None, now: datetime
) -> HelperState | None:
    """The helper with their hold on `request_id` set to `hold` (None: none), lapsed
    holds dropped; None when it holds so already (nothing to store).

    A hold wanted past its end (`HOLD_CAP` reached) is none: else once a decision had
    dropped it, every later decision of the request compared none with it and stored the
    helper unchanged, a write on the hot path."""
    if hold is not None and hold[0] <= now:
        hold = None
    current = next(((h.until, h.rank) for h in helper.presence if h.request_id == request_id), None)
    if current == hold:
        return None
    kept = tuple(h for h in helper.presence if h.request_id != request_id and h.until > now)
    if hold is not None:
        until, rank = hold
        kept = (*kept, trusted(PresenceHold, request_id=request_id, until=until, rank=rank))
    return updated(helper, presence=kept)
