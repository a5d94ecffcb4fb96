"""Stored state: what the dispatch worker keeps per request and per helper.

These are the values of the worker's key→value tables (requests by request_id, helpers
by helper_id). The core rebuilds its in-memory indexes from them after a restart.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import Field

from schemas._base import UtcDatetime, Wire, unset
from schemas.helpers import HelperProfile
from schemas.plans import EscalationPlan
from schemas.requests import RequestSpec
from schemas.vocab import Party, ReferralTarget, Ring

RECORD_SCHEMA_VERSION: Literal[1] = 1
RECENT_COMMANDS_KEPT = 64  # duplicate detection window per request / helper


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"  # no answer in time
    FAILED = "failed"  # delivery failed: treated as no answer
    STOOD_DOWN = "stood_down"


class RequestStatus(StrEnum):
    OPEN = "open"  # dispatching: some slot is unfilled
    FILLED = "filled"  # every slot has an active helper; the ladder is paused
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    REFERRED = "referred"
    EXPIRED = "expired"


TERMINAL_STATUSES: frozenset[RequestStatus] = frozenset(
    {RequestStatus.RESOLVED, RequestStatus.CANCELLED, RequestStatus.REFERRED, RequestStatus.EXPIRED}
)


class OfferRecord(Wire):
    offer_id: str
    helper_id: str
    need_indexes: tuple[int, ...]  # which of the request's needs this helper may fill
    ring: Ring
    step: int
    sent_at: UtcDatetime
    expires_at: UtcDatetime
    status: OfferStatus = OfferStatus.OPEN
    closed_at: UtcDatetime | None = None
    team_id: str | None = Field(default=None, exclude_if=unset)  # a team offer: to its leader
    again: int = Field(default=0, exclude_if=unset)  # asked again n times (`WaveOffer.again`)


class AssignmentRecord(Wire):
    helper_id: str
    offer_id: str
    need_index: int
    slot: int  # 0-based across all slots of the request
    assigned_at: UtcDatetime
    active: bool = True  # False once withdrawn / no-show
    no_show: bool = False
    ended_at: UtcDatetime | None = None
    on_way_at: UtcDatetime | None = None  # "on my way" pressed
    done_at: UtcDatetime | None = None  # "done" pressed
    minutes: int | None = None  # service minutes counted at "done"
    # A team's leader accepted for several members: the slots they hold besides `slot`.
    team_id: str | None = Field(default=None, exclude_if=unset)
    team_slots: tuple[int, ...] = Field(default=(), exclude_if=unset)
    # A team member whose leader signed them up (the leader's helper id): their own slot.
    signed_up_by: str | None = Field(default=None, exclude_if=unset)

    @property
    def slots_held(self) -> int:
        return 1 + len(self.team_slots)


class RequestState(Wire):
    v: Literal[1] = RECORD_SCHEMA_VERSION
    spec: RequestSpec
    plan: EscalationPlan  # snapshot taken at submission
    status: RequestStatus = RequestStatus.OPEN
    created_at: UtcDatetime
    # created_at (or the quiet-hours release) + plan.lifetime_s, moved later once the
    # whistle blows too late for its own wait: terminal by then.
    ends_at: UtcDatetime
    step: int = 0  # index into plan.steps; len(plan.steps) once the ladder is exhausted
    step_started_at: UtcDatetime
    # The timer turns this into FireDeadline(step=deadline_step); None when terminal.
    next_deadline: UtcDatetime | None = None
    deadline_step: int | None = None
    offers: tuple[OfferRecord, ...] = ()
    assignments: tuple[AssignmentRecord, ...] = ()
    whistle_blown: bool = False
    closed_at: UtcDatetime | None = None
    closed_by: Party | None = None
    referred_to: ReferralTarget | None = None
    claimed_by: str | None = None  # the staff member (or called recipient) who took it on
    claimed_at: UtcDatetime | None = None
    reported_back: tuple[str, ...] = ()  # whistle recipients who reported back (报到)
    recent_command_ids: tuple[str, ...] = ()
    # Held for the community's quiet hours: the ladder starts at this time (deadline step 0).
    held_until: UtcDatetime | None = Field(default=None, exclude_if=unset)

    @property
    def request_id(self) -> str:
        return self.spec.request_id

    @property
    def community_id(self) -> str:
        return self.spec.community_id

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class HelperLoad(Wire):
    """Fairness and responsiveness counters. "Today" is the helper's local day."""

    day: date | None = None
    offers_today: int = 0
    assignments_today: int = 0
    last_offered_at: UtcDatetime | None = None
    offers_total: int = 0
    accepted_total: int = 0
    declined_total: int = 0
    no_answer_total: int = 0
    withdrawn_total: int = 0
    no_show_total: int = 0
    service_seconds_total: float = 0.0  # counted towards volunteer hours

    def responsiveness(self) -> float:
        """Smoothed share of offers accepted and kept (a newcomer starts at 0.5), never
        below 0. An accept counts 1; a decline or no answer 0 (a decline is an honest
        answer: the request moves on at once). Each accept shows the requester's address,
        so one given back (去不了了) is undone and costs a fifth more: the slot was held
        and the address seen. Once, that ranks level in tenths with a helper who never
        answers (0.27 vs 0.33, both 3); accepting only to withdraw ranks below declining
        from the third time (3: 0.08 vs 0.2). A no-show costs the accept and a whole answer
        more: the requester waited for nobody. Withdrawals and no-shows are counted apart
        (`dispatcher.core.load.withdrew`), each on an accept already counted."""
        withdrawal_cost, no_show_cost = 1.2, 2.0  # in accepts
        answered = self.accepted_total + self.declined_total + self.no_answer_total
        kept = (
            self.accepted_total
            - withdrawal_cost * self.withdrawn_total
            - no_show_cost * self.no_show_total
        )
        return max(0.0, (kept + 1) / (answered + 2))


class PresenceHold(Wire):
    """An active in-person assignment the helper holds on a request (accepted, not done,
    withdrawn, no-show, nor ended with the request), until a few hours after the accept
    (`presence.HOLD_CAP`) and at latest the request's end: while it lasts they are offered
    no other request's in-person need no more urgent than its own (`rank`), nor may accept
    one (`dispatcher/core/presence.py`): a chore never keeps its helper from someone who
    collapsed. A referral to 120/110/119 keeps its helpers and their holds, bounded by that
    end since no timer closes it."""

    request_id: str
    until: UtcDatetime
    # The held request's urgency rank (0 low .. 3 critical or life-threatening). A hold
    # stored before ranks were kept reads as 0: it then blocks only low requests, never a
    # critical one - a second critical offer the helper may decline is the lesser harm than
    # a life-threatening request losing its nearest helper to what may have been a chore.
    rank: int = Field(default=0, ge=0, le=3, exclude_if=unset)


class HelperState(Wire):
    v: Literal[1] = RECORD_SCHEMA_VERSION
    profile: HelperProfile
    away: bool = False
    busy: bool = False
    dnd_override_until: UtcDatetime | None = None
    load: HelperLoad = Field(default_factory=HelperLoad)
    recent_command_ids: tuple[str, ...] = ()
    welcomed_at: UtcDatetime | None = None  # the welcome (personal page link) was sent
    summary_months: tuple[str, ...] = ()  # months whose summary was sent, last few kept
    # 结对 made by the household ledger (`PairHousehold`), kept apart from the helper
    # ledger's own 结对 column (`profile.paired_household_ids`): each ledger's re-import
    # restates only its own pairings, so neither drops the other's.
    household_pairs: tuple[str, ...] = Field(default=(), exclude_if=unset)
    # Kept by the core from the requests' records, by request id (`core/presence.py`).
    presence: tuple[PresenceHold, ...] = Field(default=(), exclude_if=unset)

    @property
    def helper_id(self) -> str:
        return self.profile.helper_id

    @property
    def community_id(self) -> str:
        return self.profile.community_id

    @property
    def paired_household_ids(self) -> tuple[str, ...]:
        """Every household this helper is paired with, from either ledger."""
        return tuple(dict.fromkeys((*self.profile.paired_household_ids, *self.household_pairs)))
