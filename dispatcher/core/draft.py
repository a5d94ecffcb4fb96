"""A mutable working copy of one request while a command is decided; frozen back into a
`RequestState` (with its next deadline computed) at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dispatcher.core.context import SearchContext
from dispatcher.core.trusted import updated
from schemas.plans import EscalationPlan
from schemas.records import (
    RECENT_COMMANDS_KEPT,
    TERMINAL_STATUSES,
    AssignmentRecord,
    OfferRecord,
    OfferStatus,
    RequestState,
    RequestStatus,
)
from schemas.requests import RequestSpec, SkillNeed
from schemas.vocab import Party, ReferralTarget, Skill

# `effective_needs()` of specs without explicit needs, by (skills, helpers needed): it
# builds validated `SkillNeed` models (frozen, so sharing them is safe) at every command.
_DERIVED_NEEDS: dict[tuple[tuple[Skill, ...], int], tuple[SkillNeed, ...]] = {}
_DERIVED_NEEDS_KEPT = 1024  # distinct skill sets × counts: few; a bound all the same


def _needs_of(spec: RequestSpec) -> tuple[SkillNeed, ...]:
    if spec.needs:
        return spec.needs
    key = (spec.skills, spec.helpers_needed)
    needs = _DERIVED_NEEDS.get(key)
    if needs is None:
        if len(_DERIVED_NEEDS) >= _DERIVED_NEEDS_KEPT:
            _DERIVED_NEEDS.clear()
        needs = _DERIVED_NEEDS[key] = spec.effective_needs()
    return needs


@dataclass
class RequestDraft:
    base: RequestState
    now: datetime
    status: RequestStatus
    step: int
    step_started_at: datetime
    offers: list[OfferRecord]
    assignments: list[AssignmentRecord]
    whistle_blown: bool
    needs: tuple[SkillNeed, ...]
    # When the request ends (`RequestState.ends_at`): moved only later, by a whistle blown
    # too late for its own wait (`ladder._whistle_rung`).
    ends_at: datetime
    closed_at: datetime | None = None
    closed_by: Party | None = None
    referred_to: ReferralTarget | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    reported_back: tuple[str, ...] = ()
    held_until: datetime | None = None
    _ctx: SearchContext | None = field(default=None, repr=False)
    # Helpers who just took an in-person need elsewhere in this decision (the accepting
    # helper, a team's leader and each member they named,
    # `request_commands._stand_down_elsewhere`): their new hold reaches the index only once
    # the decision is applied, so this request's searches must skip them (`not_to_ask`),
    # and those stood down here are not covered ones to ask again (`stood_down_covered`).
    taken_elsewhere: set[str] = field(default_factory=set, repr=False)
    # `needs[i].remote` for each need, worked out once: a wave reads it per need and offer.
    remote: tuple[bool, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.remote = tuple(n.remote for n in self.needs)

    @classmethod
    def of(cls, r: RequestState, now: datetime) -> RequestDraft:
        return cls(
            base=r,
            now=now,
            status=r.status,
            step=r.step,
            step_started_at=r.step_started_at,
            offers=list(r.offers),
            assignments=list(r.assignments),
            whistle_blown=r.whistle_blown,
            needs=_needs_of(r.spec),
            ends_at=r.ends_at,
            closed_at=r.closed_at,
            closed_by=r.closed_by,
            referred_to=r.referred_to,
            claimed_by=r.claimed_by,
            held_until=r.held_until,
            claimed_at=r.claimed_at,
            reported_back=r.reported_back,
        )

    @property
    def spec(self) -> RequestSpec:
        return self.base.spec

    @property
    def plan(self) -> EscalationPlan:
        return self.base.plan

    @property
    def request_id(self) -> str:
        return self.base.spec.request_id

    @property
    def ctx(self) -> SearchContext:
        if self._ctx is None:
            self._ctx = SearchContext.for_request(self.base, self.now)
        return self._ctx

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def held(self) -> bool:
        """Held for quiet hours and not released yet: its ladder has not started, so it
        sends no offers and climbs no rung until the release (at `held_until`) runs the
        rung it was held at. Not `now < held_until`: between that time and the timer's
        release a decline or accept must not start the ladder early, on a rung past the
        first."""
        return self.held_until is not None

    # --- offers and slots ------------------------------------------------------------

    def find_offer(self, offer_id: str) -> int | None:
        for i, o in enumerate(self.offers):
            if o.offer_id == offer_id:
                return i
        return None

    def set_offer(self, i: int, **changes: Any) -> OfferRecord:
        self.offers[i] = updated(self.offers[i], **changes)
        return self.offers[i]

    def offered_helpers(self) -> set[str]:
        """Who was asked - or signed up by their team's leader, never asked on their own."""
        return {o.helper_id for o in self.offers} | {a.helper_id for a in self.assignments}

    def reopened(self) -> bool:
        """A slot someone held is free again: a helper withdrew or did not show."""
        return any(not a.active for a in self.assignments)

    def not_to_ask(self) -> set[str]:
        """Whom the ladder does not ask (again): everyone asked or signed up, except, once a
        slot reopened (`reopened`), those stood down only because somebody else had taken
        it (`stood_down_covered`): they never said no, and are nearer than the next ring.
        Not those who declined, nor whose offer went unanswered or undelivered (they had
        their offer's whole time), nor anyone assigned (the one who withdrew included).
        Nor anyone who took an in-person need elsewhere in this decision
        (`taken_elsewhere`): the index does not know their hold yet. For this decision
        only, phone needs included: a later search finds them again for those.
        A new request has no assignment: the first decision pays nothing for it."""
        asked = self.offered_helpers()
        if self.assignments and self.reopened():
            asked -= self.stood_down_covered()
        return asked | self.taken_elsewhere if self.taken_elsewhere else asked

    def stood_down_covered(self) -> set[str]:
        """Helpers whose offer is stood down on a live request and who hold no assignment:
        the slot was covered (`ladder.stand_down(only_covered=True)`). Closings stand offers
        down too, but a closed request asks nobody. One who left the roster is stood down
        the same way; the index does not find them while they are off it. Not those this
        decision stood down as `taken_elsewhere`."""
        not_covered = {a.helper_id for a in self.assignments} | self.taken_elsewhere
        return {
            o.helper_id
            for o in self.offers
            if o.status is OfferStatus.STOOD_DOWN and o.helper_id not in not_covered
        }

    def supersede(self, asked: list[str]) -> None:
        """The helpers just `asked` again: their new open offer (the same offer id, fixed by
        the request and the helper) replaces their stood-down one, so the id still names one
        record (`find_offer`, an accept through the link they already have)."""
        again = set(asked) & self.stood_down_covered() if self.assignments else set()
        if again:
            self.offers[:] = [
                o
                for o in self.offers
                if not (o.status is OfferStatus.STOOD_DOWN and o.helper_id in again)
            ]

    def active_assignments(self) -> list[AssignmentRecord]:
        return [a for a in self.assignments if a.active]

    def filled(self, need_index: int) -> int:
        return sum(
            a.slots_held for a in self.assignments if a.active and a.need_index == need_index
        )

    def open_slots(self, need_index: int) -> int:
        return self.needs[need_index].count - self.filled(need_index)

    def open_needs(self) -> list[int]:
        if not self.assignments:  # nobody yet (a new request): every need counts >= 1
            return list(range(len(self.needs)))
        return [i for i in range(len(self.needs)) if self.open_slots(i) > 0]

    def free_slot(self, need_index: int) -> int:
        """The lowest slot number of the need not held by an active helper."""
        return self.free_slots(need_index, 1)[0]

    def free_slots(self, need_index: int, n: int) -> list[int]:
        """The `n` lowest slot numbers of the need not held (fewer if fewer are free)."""
        base = sum(c.count for c in self.needs[:need_index])
        taken: set[int] = set()
        for a in self.assignments:
            if a.active and a.need_index == need_index:
                taken.add(a.slot)
                taken.update(a.team_slots)
        free = (s for s in range(base, base + self.needs[need_index].count) if s not in taken)
        return [s for _, s in zip(range(n), free, strict=False)]

    # --- freezing --------------------------------------------------------------------

    def step_deadline(self) -> datetime | None:
        steps = self.plan.steps
        if self.status is not RequestStatus.OPEN:
            return None
        if self.held_until is not None:
            # Quiet hours: the first rung, or a paused one, waits for their end; so does a
            # replacement needed past the last rung (`ladder.paused_for_quiet_hours`).
            return self.held_until
        if self.step >= len(steps):
            return None
        return self.step_started_at + timedelta(seconds=steps[self.step].wait_s)

    def freeze(self, command_id: str) -> RequestState:
        next_deadline: datetime | None = None
        deadline_step: int | None = None
        if not self.terminal:
            due = [self.ends_at]
            step_due = self.step_deadline()
            if step_due is not None:
                due.append(step_due)
            is_open = OfferStatus.OPEN  # bound once, not read through its class per offer
            due += [o.expires_at for o in self.offers if o.status is is_open]
            # Never before the command that computed it: a held request reopened after its
            # quiet hours ended (a team's leader withdrew at 10:00, held until 07:00) was
            # otherwise released at 07:00, three hours in the past, and its offers, rungs
            # and links all counted from then: expired as they were sent.
            next_deadline, deadline_step = max(min(due), self.now), self.step
        recent = (*self.base.recent_command_ids, command_id)[-RECENT_COMMANDS_KEPT:]
        return updated(
            self.base,
            status=self.status,
            ends_at=self.ends_at,
            step=self.step,
            step_started_at=self.step_started_at,
            next_deadline=next_deadline,
            deadline_step=deadline_step,
            offers=tuple(self.offers),
            assignments=tuple(self.assignments),
            whistle_blown=self.whistle_blown,
            closed_at=self.closed_at,
            closed_by=self.closed_by,
            referred_to=self.referred_to,
            claimed_by=self.claimed_by,
            claimed_at=self.claimed_at,
            reported_back=self.reported_back,
            recent_command_ids=recent,
            held_until=self.held_until,
        )
