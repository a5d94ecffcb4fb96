"""One critical errand in person at a time: a helper holding an active in-person assignment
(accepted, not done, not withdrawn or a no-show, its request not closed) is offered no
other request's in-person need and may not accept one; phone needs stay theirs to take.
Someone on the way to a fallen neighbour who takes a second "someone collapsed" leaves its
requester waiting for nobody.

The holds are the helper record's (`HelperState.presence`), kept from each request's record
whenever a decision changes it (`sync`), whatever changed it: an accept, "done", a
withdrawal or a staff no-show, a cancellation, a resolution, a referral, the end of the
lifetime. Stored with the helper, a restart reads them back; derived from the command and
the stored records only, a replay makes the same. Each lasts at latest to its request's end
(`ends_at`): a referral to 120/110/119 keeps its helpers (they stay with the person until
the ambulance comes) but no timer closes it after, so the hold lapses by time there.
"""

from __future__ import annotations

from datetime import datetime

from dispatcher.core.trusted import trusted, updated
from schemas.records import HelperState, PresenceHold, RequestState, RequestStatus
from schemas.vocab import EMERGENCY_SERVICES

_LIVE = frozenset({RequestStatus.OPEN, RequestStatus.FILLED})


def keeps_helpers(request: RequestState) -> bool:
    """Are the request's assigned helpers still on it: live, or referred to an emergency
    service, which keeps them (`ladder.keeps_assigned`)."""
    if request.status in _LIVE:
        return True
    return request.status is RequestStatus.REFERRED and request.referred_to in EMERGENCY_SERVICES


def holders(request: RequestState, remote: tuple[bool, ...]) -> dict[str, datetime]:
    """Helper id → until, for each helper holding an in-person assignment of `request`
    (`remote[i]`: its need i is by phone). A leader who took slots for their team holds
    it as one; each member their leader named holds their own."""
    if not request.assignments or not keeps_helpers(request):
        return {}
    return {
        a.helper_id: request.ends_at
        for a in request.assignments
        if a.active and a.done_at is None and not remote[a.need_index]
    }


def holds_elsewhere(helper: HelperState, request_id: str, now: datetime) -> bool:
    """Does the helper hold an in-person assignment on another request at `now`?"""
    return any(h.request_id != request_id and h.until > now for h in helper.presence)


def until_of(helper: HelperState) -> datetime | None:
    """The latest end of the helper's holds (what a search compares): None without any."""
    return max((h.until for h in helper.presence), default=None)


def with_hold(
    helper: HelperState, request_id: str, until: datetime | None, now: datetime
) -> HelperState | None:
    """The helper with their hold on `request_id` set to `until` (None: none), lapsed
    holds dropped; None when it holds so already (nothing to store)."""
    current = next((h.until for h in helper.presence if h.request_id == request_id), None)
    if current == until:
        return None
    kept = tuple(h for h in helper.presence if h.request_id != request_id and h.until > now)
    if until is not None and until > now:
        kept = (*kept, trusted(PresenceHold, request_id=request_id, until=until))
    return updated(helper, presence=kept)
