"""The pure core driven the way the worker drives it, with the worker's own timer: a
hypothesis walk that checks no open request is ever left without a deadline on the timer,
ends unseen by staff, or is given up by the timer.

What the walk models (adopted from session 37's audit, which found the outage bug fixed in
b986f3f with it; `test_never_expires_unseen_s37.py` holds its cases):
- one command queue (a partition), processed in order, each decided at
  `min(issued_at, wall)` (streams/dispatch_agent.py `_now`);
- the timer is the real `DeadlineHeap` (dispatcher/core/deadlines.py), fed by
  `note(decision.requests)` after each decision, popped at wall time (possibly late), each
  due item sent as `deadline_command(...)` and checked again as
  streams/deadline_timer.py does after an acknowledged send; after `UNAPPLIED_SENDS` the
  real timer gives up (a command the core keeps refusing): here the core never refuses, so
  any give-up is a request left without a timer;
- human commands issued at wall time while deadline commands queue behind them (a lagging
  timer, a backlog), Kafka redelivering processed commands, and restarts rebuilding the
  state (optionally through JSON, as from the tables) and the heap from it.

Derandomized: the same examples every run (a failure is a bug, never chance);
`DISPATCH_TEST_MODEL_EXAMPLES` runs more locally (the audit ran ~15,000).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.core import DispatchState, apply, decide
from dispatcher.core.community import CommunityPolicy
from dispatcher.core.deadlines import RETRY_MAX_S, DeadlineHeap
from dispatcher.core.ladder import whistle_step
from schemas.commands import (
    AcceptOffer,
    CancelRequest,
    Command,
    CommandBody,
    CompleteAssignment,
    DeactivateHelper,
    DeclineOffer,
    MarkOnMyWay,
    ReportDeliveryFailure,
    ReportStaffNotReached,
    ResolveRequest,
    SetHelperStatus,
    SubmitRequest,
    UpsertHelper,
    WithdrawHelper,
    deadline_command,
)
from schemas.helpers import HelperProfile
from schemas.records import OfferStatus, RequestState, RequestStatus
from schemas.staff_actions import CallTeam, ClaimRequest
from schemas.vocab import Party
from streams.deadline_timer import UNAPPLIED_SENDS
from tests.unit.core_walk import COMMUNITY, POLICIES, T0, TEAMS, helpers, specs

EXAMPLES = int(os.environ.get("DISPATCH_TEST_MODEL_EXAMPLES", "300"))


class Worker:
    def __init__(self, policy: CommunityPolicy | None, rebuild_json: bool) -> None:
        self.state = DispatchState()
        if policy is not None:
            self.state.communities = {COMMUNITY: policy}
        self.heap = DeadlineHeap()
        self.wall = T0
        self.queue: list[Command] = []
        self.done: list[Command] = []
        self.n = 0
        self.sends: dict[tuple[str, int, datetime], int] = {}
        self.gave_up: list[tuple[str, int, datetime]] = []
        self.log: list[str] = []
        self.rebuild_json = rebuild_json
        self.latest_now = T0  # the latest time a command was decided at

    def human(self, body: CommandBody) -> None:
        self.n += 1
        self.queue.append(
            Command(command_id=f"c{self.n}", community_id=COMMUNITY, issued_at=self.wall, body=body)
        )

    def _deadline_queued(self, request_id: str) -> bool:
        return any(
            c.body.type == "deadline_reached" and c.body.request_id == request_id
            for c in self.queue
        )

    def timer(self) -> None:
        """`DeadlineTimer.fire`: every send acknowledged, checked again 1, 2, 4… min later."""
        for item in self.heap.pop_due(self.wall, self.state.requests):
            key = (item.request_id, item.step, item.due_at)
            sent = self.sends.get(key, 0)
            if sent >= UNAPPLIED_SENDS:
                if self._deadline_queued(item.request_id):  # behind a backlog: not refused
                    self.heap.retry_later(item, self.wall, acknowledged=True)
                else:
                    self.gave_up.append(key)
                continue
            self.queue.append(
                deadline_command(
                    request_id=item.request_id,
                    community_id=item.community_id,
                    step=item.step,
                    due_at=item.due_at,
                )
            )
            self.sends[key] = sent + 1
            later = RETRY_MAX_S * (2**sent - 1)
            self.heap.retry_later(item, self.wall + timedelta(seconds=later), acknowledged=True)

    def process(self, k: int = 1) -> None:
        for _ in range(k):
            if not self.queue:
                return
            command = self.queue.pop(0)
            self._decide(command)
            self.done.append(command)

    def redeliver(self, k: int) -> None:
        """Kafka hands back the last `k` processed commands (a crash after the tables)."""
        if self.done:
            self.queue[:0] = self.done[-k:]

    def restart(self) -> None:
        """The worker restarts: state and heap rebuilt from the tables."""
        if self.rebuild_json:
            requests = [
                RequestState.model_validate_json(r.model_dump_json())
                for r in self.state.requests.values()
            ]
            rebuilt = DispatchState.rebuild(list(self.state.helpers.values()), requests)
            rebuilt.communities = self.state.communities
            self.state = rebuilt
        self.heap = DeadlineHeap.restored(self.state.deadlines())
        self.sends.clear()

    def _decide(self, command: Command) -> None:
        now = min(command.issued_at, self.wall)
        before = dict(self.state.requests)
        decision = decide(self.state, command, now)
        apply(self.state, decision)
        self.heap.note(decision.requests.values())
        self.latest_now = max(self.latest_now, now)
        self.log.append(
            f"wall={self.wall.isoformat()} now={now.isoformat()} {command.body!r}"
            f" -> {[e.body.type for e in decision.events]}"
        )
        for rid, r in self.state.requests.items():
            if r.terminal:
                assert r.next_deadline is None
                assert all(o.status is not OfferStatus.OPEN for o in r.offers)
            else:
                assert r.next_deadline is not None, f"{rid} live without a deadline"
                assert r.next_deadline <= max(r.ends_at, self.latest_now), (
                    f"{rid}: deadline after its end"
                )
            old = before.get(rid)
            became_expired = (
                r.status is RequestStatus.EXPIRED and old is not None and not old.terminal
            )
            if became_expired and whistle_step(r.plan) is not None:
                assert r.whistle_blown, f"{rid} expired with staff never called"
            if r.status is RequestStatus.FILLED:
                for i, need in enumerate(r.spec.effective_needs()):
                    held = sum(
                        a.slots_held for a in r.assignments if a.active and a.need_index == i
                    )
                    assert held >= need.count, f"{rid} FILLED with need {i} open"
        self.check_timer()

    def check_timer(self) -> None:
        """Every live request's current deadline is in the heap or queued as a command."""
        for r in self.state.requests.values():
            if r.terminal:
                continue
            in_heap = any(
                it.request_id == r.request_id
                and it.step == r.deadline_step
                and it.due_at == r.next_deadline
                for it in self.heap.items
            )
            queued = any(
                c.body.type == "deadline_reached"
                and c.body.request_id == r.request_id
                and c.body.step == r.deadline_step
                for c in self.queue
            )
            assert in_heap or queued, f"{r.request_id}: deadline {r.next_deadline} not on the timer"


def human_body(w: Worker, data: Any, n: int, byid: dict[str, HelperProfile]) -> CommandBody | None:
    """A command a person (helper, requester, staff) might send now about some request."""
    rids = sorted(w.state.requests)
    if not rids:
        return None
    rid = data.draw(st.sampled_from(rids))
    r = w.state.requests[rid]
    kind = data.draw(
        st.sampled_from(
            ["accept", "accept", "decline", "fail", "withdraw", "done", "onway", "status",
             "deactivate", "upsert", "call-team", "claim", "not-reached", "cancel", "resolve"]
        )
    )  # fmt: skip
    k = data.draw(st.integers(0, 50))
    hid = f"h{k % n}"
    offer = r.offers[k % len(r.offers)] if r.offers else None
    held = r.assignments[k % len(r.assignments)] if r.assignments else None
    if kind in ("accept", "decline", "fail") and offer is not None:
        answer = {"accept": AcceptOffer, "decline": DeclineOffer, "fail": ReportDeliveryFailure}
        return answer[kind](request_id=rid, offer_id=offer.offer_id, helper_id=offer.helper_id)
    if kind == "withdraw" and held is not None:
        return WithdrawHelper(
            request_id=rid, helper_id=held.helper_id, no_show=data.draw(st.booleans())
        )
    if kind == "done" and held is not None:
        return CompleteAssignment(request_id=rid, helper_id=held.helper_id)
    if kind == "onway" and held is not None:
        return MarkOnMyWay(request_id=rid, helper_id=held.helper_id)
    if kind == "status":
        return SetHelperStatus(
            helper_id=hid, away=data.draw(st.booleans()), busy=data.draw(st.booleans())
        )
    if kind == "deactivate":
        return DeactivateHelper(helper_id=hid)
    if kind == "upsert":
        return UpsertHelper(
            profile=byid[hid].model_copy(update={"active": data.draw(st.booleans())})
        )
    if kind == "call-team":
        return CallTeam(request_id=rid, team_id=TEAMS[k % 2], by="li.wei")
    if kind == "claim":
        return ClaimRequest(request_id=rid, by="staff.a")
    if kind == "not-reached":
        whistle = whistle_step(r.plan)
        if whistle is not None:
            return ReportStaffNotReached(
                request_id=rid,
                rung="whistle",
                step=whistle,
                called_at=r.step_started_at,
                recipients=1,
            )
    if kind == "cancel" and data.draw(st.integers(0, 4)) == 0:
        return CancelRequest(request_id=rid, by=Party.REQUESTER)
    if kind == "resolve" and data.draw(st.integers(0, 4)) == 0:
        return ResolveRequest(request_id=rid, by=Party.STAFF)
    return None


_STEPS = ["human"] * 3 + ["wall"] * 2 + ["timer"] * 2 + ["process"] * 3
_STEPS += ["redeliver", "restart", "submit"]
_WALL_STEPS_S = [1, 5, 30, 120, 600, 1800, 7200, 36000]


@settings(
    derandomize=True,
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(
    data=st.data(),
    n=st.integers(2, 10),
    policy=st.sampled_from(range(len(POLICIES))),
    start_hour=st.integers(0, 23),
    rebuild_json=st.booleans(),
)
def test_the_worker_leaves_no_request_unseen(
    data: Any, n: int, policy: int, start_hour: int, rebuild_json: bool
) -> None:
    w = Worker(POLICIES[policy], rebuild_json)
    w.wall = T0 + timedelta(hours=start_hour)
    profiles = data.draw(helpers(n))
    byid = {p.helper_id: p for p in profiles}
    for p in profiles:
        w.human(UpsertHelper(profile=p))
    w.process(len(w.queue))
    submitted = 0
    try:
        for _ in range(data.draw(st.integers(10, 70))):
            kind = data.draw(st.sampled_from(_STEPS))
            if kind == "submit" and submitted < 3:
                w.human(SubmitRequest(spec=data.draw(specs(f"r{submitted}"))))
                submitted += 1
            elif kind == "human":
                body = human_body(w, data, n, byid)
                if body is not None:
                    w.human(body)
            elif kind == "wall":
                w.wall += timedelta(seconds=data.draw(st.sampled_from(_WALL_STEPS_S)))
            elif kind == "timer":
                w.timer()
            elif kind == "process":
                w.process(data.draw(st.integers(1, 4)))
            elif kind == "redeliver":
                w.redeliver(data.draw(st.integers(1, 5)))
            elif kind == "restart":
                w.process(len(w.queue))  # what was read is processed before the state goes
                w.restart()
        # Then the timer and the agent alone, the wall clock moving to the next fire time.
        for _ in range(5000):
            w.process(len(w.queue))
            if all(r.terminal for r in w.state.requests.values()):
                break
            assert w.heap.items, "live requests but an empty heap"
            w.wall = max(w.wall, min(it.fire_at for it in w.heap.items))
            w.timer()
        assert not w.gave_up, f"the timer gave up on {w.gave_up}"
        for r in w.state.requests.values():
            assert r.terminal, f"{r.request_id} never ended"
    except AssertionError:
        print("\n".join(w.log[-30:]))  # shown by pytest for the failing example
        raise
