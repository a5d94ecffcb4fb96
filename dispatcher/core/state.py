"""The in-memory state of one worker partition (any number of communities), and the
single place it changes: `apply`.

Records are keyed by id and carry their community id; the index is derived from the
helper records and rebuilt from them after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatcher.core.community import CommunityPolicy
from dispatcher.core.entry import HelperEntry
from dispatcher.core.held_requests import HeldRequests
from dispatcher.core.index import HelperIndex
from dispatcher.core.presence import holders
from dispatcher.core.trusted import share_fields_sets, trusted, updated
from schemas.events import Event
from schemas.party import PartyFirst
from schemas.plans import DEFAULT_PLANS, EscalationPlan
from schemas.records import HelperState, PresenceHold, RequestState
from schemas.vocab import Urgency

# Terminal requests are kept this long (duplicate submissions and late clicks still find
# them and become no-ops or clear rejections), then `prune` drops them.
KEEP_TERMINAL_S = 24 * 3600
# …and after this long they are kept as their JSON, out of the collector's way (HeldRequests).
COLD_AFTER_S = 60.0
NO_POLICY = CommunityPolicy()


@dataclass(frozen=True, slots=True)
class Deadline:
    request_id: str
    community_id: str
    step: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """What one command causes: events to publish and the records to store (upsert)."""

    events: tuple[Event, ...] = ()
    requests: Mapping[str, RequestState] = field(default_factory=dict)
    helpers: Mapping[str, HelperState] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.events or self.requests or self.helpers)


class DispatchState:
    def __init__(
        self,
        helpers: MutableMapping[str, HelperState] | None = None,
        requests: Mapping[str, RequestState] | None = None,
        index: HelperIndex | None = None,
        plans: Mapping[Urgency, EscalationPlan] | None = None,
    ) -> None:
        self.helpers: MutableMapping[str, HelperState] = {} if helpers is None else helpers
        self.requests = HeldRequests(requests)
        self.index = HelperIndex() if index is None else index
        # Plans used for new requests; running requests use their own snapshot.
        self.plans: Mapping[Urgency, EscalationPlan] = DEFAULT_PLANS if plans is None else plans
        # Community id → its party-first setting, applied to new requests (snapshotted
        # onto the request like its plan).
        self.party_first: Mapping[str, PartyFirst] = {}
        # Community id → its plan set, quiet hours and zone (dispatcher/core/community.py),
        # read when a request is submitted; the worker keeps it in step with its config.
        self.communities = {}

    @property
    def communities(self) -> Mapping[str, CommunityPolicy]:
        return self._communities

    @communities.setter
    def communities(self, value: Mapping[str, CommunityPolicy]) -> None:
        # The search reads the zones (its helpers' clocks) from the index: one mapping, bound
        # to both whenever it is replaced (the worker and tests replace it whole).
        self._communities = value
        self.index.communities = value

    def policy(self, community_id: str) -> CommunityPolicy:
        return self.communities.get(community_id) or NO_POLICY

    def plan_for(self, community_id: str, urgency: Urgency) -> EscalationPlan:
        """The plan a new request of the community starts with (its plan set, else ours)."""
        plans = self.policy(community_id).plans
        return (plans or self.plans)[urgency]

    @classmethod
    def rebuild(
        cls,
        helpers: Iterable[HelperState],
        requests: Iterable[RequestState],
        plans: Mapping[Urgency, EscalationPlan] | None = None,
    ) -> DispatchState:
        """From stored records, e.g. after a restart or a rebalance."""
        state = cls(plans=plans)
        for h in helpers:  # validated: each with fields-sets of its own until shared
            state.helpers[h.helper_id] = share_fields_sets(h)
        for r in requests:
            state.requests[r.request_id] = share_fields_sets(r)
        _backfill_presence(state)
        state.index.bulk_load(
            HelperEntry.from_state(h) for h in state.helpers.values() if h.profile.active
        )
        return state

    def deadlines(self) -> list[Deadline]:
        """Every live request's next deadline (for the timer's heap)."""
        return [
            Deadline(r.request_id, r.community_id, r.deadline_step, r.next_deadline)
            for r in self.requests.live()  # a cold request has no deadline left
            if r.next_deadline is not None and r.deadline_step is not None
        ]

    def due_deadlines(self, now: datetime) -> list[Deadline]:
        return sorted((d for d in self.deadlines() if d.due_at <= now), key=lambda d: d.due_at)

    def prune(
        self,
        now: datetime,
        keep_terminal_s: float = KEEP_TERMINAL_S,
        cold_after_s: float = COLD_AFTER_S,
    ) -> list[str]:
        """Drop terminal requests closed more than `keep_terminal_s` ago; returns their ids
        (the caller deletes them from its table too). Those closed more than `cold_after_s`
        ago are kept as their JSON from now on (`HeldRequests.cool`)."""
        dropped = self.requests.closed_before(now - timedelta(seconds=keep_terminal_s))
        for rid in dropped:
            del self.requests[rid]
        self.requests.cool(now - timedelta(seconds=cold_after_s))
        return dropped


def _backfill_presence(state: DispatchState) -> None:
    """Holds of in-person assignments made before helper records kept them
    (`HelperState.presence`), or kept before they had a rank and a cap (until the request's
    end), from the live requests' records as `Effects.sync_presence` keeps them now: stored
    with the helper's next change. A hold as `sync_presence` left it is the same already."""
    for r in state.requests.live():
        if not r.assignments:
            continue
        remote = tuple(n.remote for n in r.spec.effective_needs())
        for helper_id, (until, rank) in holders(r, remote).items():
            helper = state.helpers.get(helper_id)
            if helper is None:
                continue
            hold = trusted(PresenceHold, request_id=r.request_id, until=until, rank=rank)
            if hold in helper.presence:
                continue
            others = tuple(h for h in helper.presence if h.request_id != r.request_id)
            state.helpers[helper_id] = updated(helper, presence=(*others, hold))


def apply(state: DispatchState, decision: Decision) -> None:
    """Store a decision's records and bring the index up to date."""
    for rid, request in decision.requests.items():
        state.requests[rid] = request
    for hid, helper in decision.helpers.items():
        old = state.helpers.get(hid)
        state.helpers[hid] = helper
        if not helper.profile.active:
            state.index.remove(hid)
            continue
        entry = state.index.entries.get(hid)
        if (
            entry is not None
            and old is not None
            and old.profile == helper.profile
            and old.household_pairs == helper.household_pairs
        ):
            entry.refresh(helper)  # only load or status changed: no re-bucketing
        else:
            state.index.upsert(HelperEntry.from_state(helper))
