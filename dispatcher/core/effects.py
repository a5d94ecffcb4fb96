"""Collects what one command causes, without touching the state: events (with ids
derived from the command id and their position) and changed helper records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from dispatcher.core.load import local_day, offered
from dispatcher.core.state import Decision, DispatchState
from dispatcher.core.trusted import SAME_FIELDS, builder, replaced, updated
from schemas._base import require_utc
from schemas.commands import Command
from schemas.events import Event, EventBody, event_id_prefix, uuid5_of
from schemas.records import HelperLoad, HelperState, RequestState

_event = builder(Event)
_LOAD = frozenset(("load",))


class Effects:
    def __init__(self, state: DispatchState, command: Command, now: datetime) -> None:
        self.state = state
        self.command = command
        # In UTC, as validation would make it: events and records are built from it unchecked.
        self.now = require_utc(now)
        self.events: list[Event] = []
        self.helpers: dict[str, HelperState] = {}
        self._days: dict[int, date] = {}
        # `event_id_for(command_id, i)` hashes this head + `str(i)`: encoded once, not per event.
        self._id_prefix = event_id_prefix(command.command_id)

    def emit(self, body: EventBody, request_id: str | None) -> None:
        """`make_event(...)` without re-validating the body (see `core.trusted`)."""
        command_id = self.command.command_id
        events = self.events
        events.append(
            _event(
                event_id=uuid5_of(self._id_prefix + str(len(events)).encode()),
                community_id=self.command.community_id,
                request_id=request_id,
                occurred_at=self.now,
                caused_by=command_id,
                body=body,
            )
        )

    def emit_like(self, template: Event, body: EventBody) -> None:
        """`emit(body, template.request_id)` for a run of events of one request (a wave of
        offers): a copy of `template` (one `emit`ted already, so of this command) with
        this event's id and body, instead of a fresh build of every field."""
        events = self.events
        d = template.__dict__.copy()
        d["event_id"] = uuid5_of(self._id_prefix + str(len(events)).encode())
        d["body"] = body
        events.append(replaced(template, d, SAME_FIELDS))

    def helper(self, helper_id: str) -> HelperState | None:
        pending = self.helpers.get(helper_id)
        return pending if pending is not None else self.state.helpers.get(helper_id)

    def put_helper(self, helper: HelperState) -> None:
        self.helpers[helper.helper_id] = helper

    def update_load(self, helper_id: str, change: Callable[[HelperLoad, date], HelperLoad]) -> None:
        found = self._with_day(helper_id)
        if found is not None:
            helper, today = found
            self.helpers[helper_id] = updated(helper, load=change(helper.load, today))

    def count_offer(self, helper_id: str) -> None:
        """`update_load(helper_id, offered)` for the hot path (once per offer sent): the
        helper's copied `__dict__` edited in place rather than a keyword dict built."""
        helper = self.helpers.get(helper_id)
        if helper is None:
            helper = self.state.helpers.get(helper_id)
            if helper is None:
                return  # removed from the roster since (nothing to count)
        # `_with_day`, inlined.
        offset = helper.profile.utc_offset_minutes
        today = self._days.get(offset)
        if today is None:
            today = self._days[offset] = local_day(self.now, offset)
        d = helper.__dict__.copy()
        d["load"] = offered(d["load"], self.now, today)
        self.helpers[helper_id] = replaced(helper, d, _LOAD)

    def _with_day(self, helper_id: str) -> tuple[HelperState, date] | None:
        """The helper as this command left it so far, and its local day; None for a
        helper removed from the roster since (nothing to count)."""
        helper = self.helpers.get(helper_id)
        if helper is None:
            helper = self.state.helpers.get(helper_id)
        if helper is None:
            return None
        offset = helper.profile.utc_offset_minutes
        today = self._days.get(offset)
        if today is None:
            today = self._days[offset] = local_day(self.now, offset)
        return helper, today

    def decision(self, requests: dict[str, RequestState] | None = None) -> Decision:
        return Decision(events=tuple(self.events), requests=requests or {}, helpers=self.helpers)
