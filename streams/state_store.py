"""The worker's durable state: two Faust tables (changelogged) and the core's in-memory view.

Each table value records the partition it was written on. Faust's memory store forgets only
*recovered* keys of revoked partitions, not keys written live, so a rebuild filters by the
partitions this worker is assigned now. A helper is two records, its profile apart
(PROFILE_SUFFIX), so that an offer does not rewrite the profile.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from dispatcher.core import Decision, DispatchState
from dispatcher.core.deadlines import DeadlineHeap, HeapItem
from dispatcher.sealing import KeyRing, seal_profile, seal_spec
from schemas.helpers import STORED, HelperProfile
from schemas.plans import EscalationPlan
from schemas.records import HelperState, RequestState
from schemas.requests import RequestSpec
from schemas.vocab import Urgency

log = logging.getLogger(__name__)
R = TypeVar("R", RequestState, HelperState)


def encode_record(partition: int, record: RequestState | HelperState) -> bytes:
    """`{"p": partition, "r": the record as JSON}`. The record is serialised by pydantic's
    own JSON encoder, not `json.dumps(model_dump(mode="json"))`: the same document once
    decoded, in about a quarter of the time (the worker writes one per changed record)."""
    if type(record) is RequestState:
        return b'{"p":%d,"r":%b}' % (partition, encode_request(record))
    return b'{"p":%d,"r":%b}' % (partition, record.model_dump_json().encode())


_REQUEST_HEAD = b'{"v":1,'
_SPEC_PLAN = {"spec", "plan"}
_PLAN_JSON: dict[int, tuple[EscalationPlan, bytes]] = {}  # id → (the plan, its JSON)
_PLAN_JSON_MAX = 1024


def encode_request(request: RequestState) -> bytes:
    """`request.model_dump_json()`, byte for byte, with its plan's JSON made once per plan
    object: a request's plan is the plan set's own object until a rebuild, never changed, yet
    its steps' serializer was ~45 % of each request write (7.5 of 16.6 µs)."""
    plan = request.plan
    cached = _PLAN_JSON.get(id(plan))
    if cached is None or cached[0] is not plan:  # the entry keeps its plan alive: belt and braces
        if len(_PLAN_JSON) >= _PLAN_JSON_MAX:
            _PLAN_JSON.clear()  # after rebuilds, one per request: keep the bound simple
        cached = _PLAN_JSON[id(plan)] = (plan, plan.model_dump_json().encode())
    rest = request.model_dump_json(exclude=_SPEC_PLAN).encode()
    if not rest.startswith(_REQUEST_HEAD):  # a schema whose first field is not `v`: as is
        return request.model_dump_json().encode()
    spec = request.spec.model_dump_json().encode()
    return b'%b"spec":%b,"plan":%b,%b' % (
        _REQUEST_HEAD,
        spec,
        cached[1],
        rest[len(_REQUEST_HEAD) :],
    )


def decode_record(raw: bytes) -> tuple[int, dict[str, Any]]:
    doc = json.loads(raw)
    return int(doc["p"]), doc["r"]


#: A helper's profile is stored under its id and this suffix, the rest of its record under its
#: id alone: an offer changes a helper's counters, not its profile (about two thirds of its
#: record), so most writes of a helper leave the profile out. A record under the id that holds
#: a `profile` (written before the split) is read whole, as it was written.
PROFILE_SUFFIX = "\x00profile"


def encode_helper_status(partition: int, helper: HelperState) -> bytes:
    """The helper's record without its profile (stored under PROFILE_SUFFIX)."""
    body = helper.model_dump_json(exclude=_PROFILE).encode()
    return b'{"p":%d,"r":%b}' % (partition, body)


def encode_profile(partition: int, profile: HelperProfile) -> bytes:
    return b'{"p":%d,"r":%b}' % (partition, profile.model_dump_json().encode())


_PROFILE = {"profile"}


def read_helpers(
    items: Iterable[tuple[Any, Any]], partitions: frozenset[int] | None = None
) -> tuple[list[HelperState], int, dict[tuple[int, str], HelperProfile]]:
    """The helpers of `partitions` (None: of every partition) in a helper table's (key, value)
    items, each from its record and its profile record (or from a record written whole, before
    the split); the count of other partitions' records; and the profiles read from profile
    records, by (partition, helper id): what the table holds."""
    profiles: dict[tuple[int, str], dict[str, Any]] = {}
    statuses: list[tuple[int, str, dict[str, Any]]] = []
    skipped = 0
    for key, raw in items:
        if raw is None:
            continue
        p, rec = decode_record(raw)
        if partitions is not None and p not in partitions:
            skipped += 1
            continue
        k = key.decode() if isinstance(key, bytes) else str(key)
        if k.endswith(PROFILE_SUFFIX):
            profiles[(p, k.removesuffix(PROFILE_SUFFIX))] = rec
        else:
            statuses.append((p, k, rec))
    helpers: list[HelperState] = []
    stored: dict[tuple[int, str], HelperProfile] = {}
    for p, k, rec in statuses:
        if "profile" in rec:  # written whole (before the split, or by a rollback)
            helpers.append(HelperState.model_validate(rec, context=STORED))
            continue
        profile = profiles.get((p, k))
        if profile is None:  # the profile is always written first: a broken table
            log.error("helper %s on partition %d has no profile record: left out", k, p)
            continue
        # STORED: a time window saved with a UTC offset by an older release is read as its
        # clock time (schemas/helpers.py), not a rebuild that fails and stops the worker.
        helper = HelperState.model_validate({**rec, "profile": profile}, context=STORED)
        stored[(p, k)] = helper.profile
        helpers.append(helper)
    return helpers, skipped, stored


#: Beside a request's record, under its id and this suffix: where the last copy the dispatch
#: agent sent of a command about it went. A record about the request read before that offset
#: is sent again too, behind it (streams/late_commands.py); kept with the tables, a restart, a
#: rebuild or the partition's next owner knows it alike. Its outer "p" is -1, no partition:
#: a worker of an earlier release (a rollback) takes it for another partition's record and
#: leaves it out, instead of failing to read it as a request.
COPY_SUFFIX = "\x00copy"
_COPY_SUFFIX = COPY_SUFFIX.encode()

CopyMark = tuple[int, int]  # (partition, offset) of the last copy sent about a request


def encode_copy_mark(mark: CopyMark) -> bytes:
    return b'{"p":-1,"r":{"p":%d,"o":%d}}' % mark


def _owned(
    items: Iterable[tuple[Any, Any]], partitions: frozenset[int], model: type[R]
) -> tuple[list[R], int]:
    """Decode the stored records of `partitions`; count those of other partitions."""
    owned: list[R] = []
    skipped = 0
    for _, raw in items:
        if raw is None:
            continue
        p, rec = decode_record(raw)
        if p in partitions:
            owned.append(model.model_validate(rec))
        else:
            skipped += 1
    return owned, skipped


def read_requests(
    items: Iterable[tuple[Any, Any]], partitions: frozenset[int]
) -> tuple[list[RequestState], int, dict[str, CopyMark]]:
    """The requests of `partitions` in a request table's (key, value) items, the count of
    other partitions' records, and the requests' copy marks (COPY_SUFFIX) by request id."""
    requests: list[tuple[Any, Any]] = []
    marks: dict[str, CopyMark] = {}
    skipped = 0
    for key, raw in items:
        k = key if isinstance(key, bytes) else str(key).encode()
        if not k.endswith(_COPY_SUFFIX):
            requests.append((key, raw))
        elif raw is not None:
            _, mark = decode_record(raw)
            p = int(mark["p"])
            if p in partitions:
                marks[k[: -len(_COPY_SUFFIX)].decode()] = (p, int(mark["o"]))
            else:
                skipped += 1
    owned, skipped_r = _owned(requests, partitions, RequestState)
    return owned, skipped + skipped_r, marks


def _sealed(
    keys: KeyRing, reqs: list[RequestState], helpers: list[HelperState]
) -> tuple[list[RequestState], list[HelperState]]:
    """Records stored before issue 12.7 hold contacts and phones in the clear: sealed in
    memory (and so in the table when the record is next written), so that the core
    compares phone digests alike on both sides and new events carry only boxes."""
    reqs = [_with_spec(r, seal_spec(keys, r.spec)) for r in reqs]
    helpers = [
        h
        if (p := seal_profile(keys, h.profile)) is h.profile
        else h.model_copy(update={"profile": p})
        for h in helpers
    ]
    return reqs, helpers


def _with_spec(record: RequestState, spec: RequestSpec) -> RequestState:
    return record if spec is record.spec else record.model_copy(update={"spec": spec})


@dataclass
class WorkerState:
    """The core's state for every partition this worker owns, plus the deadline heap."""

    core: DispatchState = field(default_factory=lambda: DispatchState())
    heap: DeadlineHeap = field(default_factory=DeadlineHeap)
    generation: int = -1  # the consumer generation this state was rebuilt for
    partitions: frozenset[int] = frozenset()
    # (partition, helper id) -> the profile object its profile record holds: a helper whose
    # profile is still that very object is written without it (PROFILE_SUFFIX).
    stored_profiles: dict[tuple[int, str], HelperProfile] = field(default_factory=dict)
    # Request id -> where the last copy sent of a command about it went (COPY_SUFFIX).
    copies: dict[str, CopyMark] = field(default_factory=dict)

    @classmethod
    def rebuild(
        cls,
        requests_items: Iterable[tuple[Any, Any]],
        helpers_items: Iterable[tuple[Any, Any]],
        partitions: frozenset[int],
        generation: int,
        plans: Mapping[Urgency, EscalationPlan] | None = None,
        keys: KeyRing | None = None,
    ) -> WorkerState:
        reqs, skipped_r, copies = read_requests(requests_items, partitions)
        helpers, skipped_h, stored_profiles = read_helpers(helpers_items, partitions)
        if keys is not None:
            reqs, helpers = _sealed(keys, reqs, helpers)
        skipped = skipped_r + skipped_h
        state = cls(
            core=DispatchState.rebuild(helpers, reqs, plans=plans),
            generation=generation,
            partitions=partitions,
            # A profile sealed just now is another object: written with the helper's next write.
            stored_profiles=stored_profiles,
            copies=copies,
        )
        state.heap = DeadlineHeap.restored(state.core.deadlines())
        log.info(
            "state rebuilt for partitions %s: %d requests, %d helpers, %d deadlines"
            " (%d records of other partitions ignored)",
            sorted(partitions),
            len(reqs),
            len(helpers),
            len(state.heap),
            skipped,
        )
        return state

    def note_decision(self, decision: Decision) -> None:
        self.heap.note(decision.requests.values())

    def pop_due(self, now: datetime) -> list[HeapItem]:
        """Due deadlines that are still current (stale heap entries are dropped here)."""
        return self.heap.pop_due(now, self.core.requests)
