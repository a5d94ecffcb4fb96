"""Collects what one command causes, without touching the state: events (with ids
derived from the command id and their position) and changed helper records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from pydantic import BaseModel

from dispatcher.core.load import local_day
from dispatcher.core.presence import holders, with_hold
from dispatcher.core.state import Decision, DispatchState
from dispatcher.core.trusted import builder, shared_fields_set, updated
from schemas._base import require_utc
from schemas._builders import new as _new
from schemas._builders import set_dict as _set_dict
from schemas._builders import set_extra as _set_extra
from schemas._builders import set_fields_set as _set_fields_set
from schemas._builders import set_private as _set_private
from schemas.commands import Command
from schemas.events import Event, EventBody, event_id_prefix, uuid5_of
from schemas.helpers import HelperProfile
from schemas.records import HelperLoad, HelperState, RequestState

_event = builder(Event)
_LOAD = frozenset(("load",))
# What an offer changes in a helper's load, on a new local day and on the same day.
_OFFERED_NEW_DAY = frozenset(
    ("day", "offers_today", "assignments_today", "offers_total", "last_offered_at")
)
_OFFERED = frozenset(("offers_today", "offers_total", "last_offered_at"))
# On a day before the one the counters hold (`load.before_counted_day`): the totals only.
_OFFERED_DAY_BEFORE = frozenset(("offers_total", "last_offered_at"))
# A load with nothing in its fields-set (a new helper's) with each of the above set.
_FRESH_LOAD = {
    changed: shared_fields_set(HelperLoad, changed)
    for changed in (_OFFERED_NEW_DAY, _OFFERED, _OFFERED_DAY_BEFORE)
}


def _with(model: BaseModel, changed: frozenset[str]) -> set[str]:
    """`model`'s fields-set with `changed` added: the same set when it holds them already
    (a frozen model's fields-set never changes after it is built), else the shared one."""
    fields_set = model.__pydantic_fields_set__
    if changed <= fields_set:
        return fields_set
    return shared_fields_set(type(model), fields_set | changed)


class Effects:
    def __init__(self, state: DispatchState, command: Command, now: datetime) -> None:
        self.state = state
        self.command = command
        # In UTC, as validation would make it: events and records are built from it unchecked.
        self.now = require_utc(now)
        self.events: list[Event] = []
        self.helpers: dict[str, HelperState] = {}
        # Other requests this decision changed besides the one it is about (an accept that
        # stands the helper down elsewhere): `decision` stores them too.
        self.requests: dict[str, RequestState] = {}
        self._days: dict[int, date] = {}
        # Community id → its zone's offset at `now` (its helpers' clock), None without a
        # zone: worked out once per decision, not per helper.
        self._community_offsets: dict[str, int | None] = {}
        # `event_id_for(command_id, i)` hashes this head + `str(i)`: encoded once, not per event.
        self.event_id_prefix = event_id_prefix(command.command_id)

    def emit(self, body: EventBody, request_id: str | None, at: datetime | None = None) -> None:
        """`make_event(...)` without re-validating the body (see `core.trusted`); `at`: when
        it happened, if before the decision (a request opened at the resident's intake)."""
        command_id = self.command.command_id
        events = self.events
        events.append(
            _event(
                event_id=uuid5_of(self.event_id_prefix + str(len(events)).encode()),
                community_id=self.command.community_id,
                request_id=request_id,
                occurred_at=self.now if at is None else at,
                caused_by=command_id,
                body=body,
            )
        )

    def helper(self, helper_id: str) -> HelperState | None:
        pending = self.helpers.get(helper_id)
        return pending if pending is not None else self.state.helpers.get(helper_id)

    def put_helper(self, helper: HelperState) -> None:
        self.helpers[helper.helper_id] = helper

    def sync_presence(self, request: RequestState, remote: tuple[bool, ...]) -> None:
        """Bring the in-person holds of the request's assigned helpers in line with its
        record as this decision leaves it (`core/presence.py`): every path that starts or
        ends an assignment, or closes the request, goes through here."""
        if not request.assignments:
            return
        wanted = holders(request, remote)
        for helper_id in dict.fromkeys(a.helper_id for a in request.assignments):
            helper = self.helper(helper_id)
            if helper is None:
                continue  # removed from the roster since
            changed = with_hold(helper, request.request_id, wanted.get(helper_id), self.now)
            if changed is not None:
                self.helpers[helper_id] = changed

    def update_load(self, helper_id: str, change: Callable[[HelperLoad, date], HelperLoad]) -> None:
        found = self._with_day(helper_id)
        if found is not None:
            helper, today = found
            self.helpers[helper_id] = updated(helper, load=change(helper.load, today))

    def count_offers(self, helper_ids: list[str]) -> None:
        """Count an offer in the load of each helper offered, in order: the hot path (a
        wave's offers), with the helper lookups bound once, `trusted.like` inlined, each
        copied `__dict__` edited in place rather than a keyword dict built, and the local
        day looked up again only when the helper's community or offset differs from the
        one before (a wave's helpers mostly share both)."""
        pending = self.helpers
        stored = self.state.helpers
        now = self.now
        last_day: tuple[str, int, date] | None = None
        entries = self.state.index.entries
        for helper_id in helper_ids:
            helper = pending.get(helper_id)
            if helper is None:
                helper = stored.get(helper_id)
                if helper is None:
                    continue  # removed from the roster since (nothing to count)
                # A stored helper's index entry holds its profile's community and offset
                # (`apply` keeps the two in step), and the search has just read it: in a
                # large community the profile and its place are reads from memory.
                entry = entries.get(helper_id)
            else:
                entry = None  # changed by this decision: its own profile
            d = helper.__dict__.copy()
            profile = d["profile"]
            # `_day_of(profile)`: the day depends on the community and the helper's offset only.
            if entry is not None:
                community_id, offset = entry.community_id, entry.utc_offset_minutes
            else:
                community_id = profile.place.community_id
                offset = profile.utc_offset_minutes
            if last_day is not None and last_day[0] == community_id and last_day[1] == offset:
                today = last_day[2]
            else:
                today = self._day_of(profile)
                last_day = (community_id, offset, today)
            # `offered(load, now, today)`, inlined.
            load = d["load"]
            counts = load.__dict__.copy()
            day = counts["day"]
            if day == today:
                counts["offers_today"] += 1
                changed = _OFFERED
            elif day is None or day < today:  # a new day: the per-day counters start again
                counts["day"] = today
                counts["offers_today"] = 1
                counts["assignments_today"] = 0
                changed = _OFFERED_NEW_DAY
            else:  # stamped before the counted day (`before_counted_day`): not moved back
                changed = _OFFERED_DAY_BEFORE
            counts["offers_total"] += 1
            last = counts["last_offered_at"]
            if last is None or now > last:  # the later of the two, whatever the order
                counts["last_offered_at"] = now
            fields_set = load.__pydantic_fields_set__
            if not changed <= fields_set:
                # A load nothing was set in yet (a new helper's) is the usual case here.
                fields_set = _FRESH_LOAD[changed] if not fields_set else _with(load, changed)
            counted = _new(HelperLoad)  # `like(HelperLoad, counts, fields_set)`, inlined
            _set_dict(counted, counts)
            _set_fields_set(counted, fields_set)
            _set_extra(counted, None)
            _set_private(counted, None)
            d["load"] = counted
            fields_set = helper.__pydantic_fields_set__
            if "load" not in fields_set:
                fields_set = _with(helper, _LOAD)
            copy = _new(HelperState)  # `like(HelperState, d, fields_set)`, inlined
            _set_dict(copy, d)
            _set_fields_set(copy, fields_set)
            _set_extra(copy, None)
            _set_private(copy, None)
            pending[helper_id] = copy

    def _with_day(self, helper_id: str) -> tuple[HelperState, date] | None:
        """The helper as this command left it so far, and its local day; None for a
        helper removed from the roster since (nothing to count)."""
        helper = self.helpers.get(helper_id)
        if helper is None:
            helper = self.state.helpers.get(helper_id)
        if helper is None:
            return None
        return helper, self._day_of(helper.profile)

    def _day_of(self, profile: HelperProfile) -> date:
        """The helper's local day: their community's, if it has a zone (as the search's
        `LocalClock` reads it), else at their own offset."""
        community_id = profile.place.community_id
        offsets = self._community_offsets
        if community_id in offsets:
            offset = offsets[community_id]
        else:
            policy = self.state.communities.get(community_id)
            offset = None if policy is None else policy.utc_offset_minutes(self.now)
            offsets[community_id] = offset
        if offset is None:
            offset = profile.utc_offset_minutes
        today = self._days.get(offset)
        if today is None:
            today = self._days[offset] = local_day(self.now, offset)
        return today

    def decision(self, requests: dict[str, RequestState] | None = None) -> Decision:
        if self.requests:
            requests = {**self.requests, **(requests or {})}
        return Decision(events=tuple(self.events), requests=requests or {}, helpers=self.helpers)
