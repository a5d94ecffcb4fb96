"""Collects what one command causes, without touching the state: events (with ids
derived from the command id and their position) and changed helper records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from dispatcher.core.load import local_day
from dispatcher.core.state import Decision, DispatchState
from dispatcher.core.trusted import builder, updated
from schemas._base import require_utc
from schemas.commands import Command
from schemas.events import Event, EventBody, event_id_for
from schemas.records import HelperLoad, HelperState, RequestState

_event = builder(Event)


class Effects:
    def __init__(self, state: DispatchState, command: Command, now: datetime) -> None:
        self.state = state
        self.command = command
        # In UTC, as validation would make it: events and records are built from it unchecked.
        self.now = require_utc(now)
        self.events: list[Event] = []
        self.helpers: dict[str, HelperState] = {}
        self._days: dict[int, date] = {}

    def emit(self, body: EventBody, request_id: str | None) -> None:
        """`make_event(...)` without re-validating the body (see `core.trusted`)."""
        command_id = self.command.command_id
        self.events.append(
            _event(
                event_id=event_id_for(command_id, len(self.events)),
                community_id=self.command.community_id,
                request_id=request_id,
                occurred_at=self.now,
                caused_by=command_id,
                body=body,
            )
        )

    def helper(self, helper_id: str) -> HelperState | None:
        pending = self.helpers.get(helper_id)
        return pending if pending is not None else self.state.helpers.get(helper_id)

    def put_helper(self, helper: HelperState) -> None:
        self.helpers[helper.helper_id] = helper

    def update_load(self, helper_id: str, change: Callable[[HelperLoad, date], HelperLoad]) -> None:
        # `helper` and `put_helper`, inlined: this runs once per offer sent.
        helpers = self.helpers
        helper = helpers.get(helper_id)
        if helper is None:
            helper = self.state.helpers.get(helper_id)
        if helper is None:
            return  # a helper removed from the roster since: nothing to count
        offset = helper.profile.utc_offset_minutes
        today = self._days.get(offset)
        if today is None:
            today = self._days[offset] = local_day(self.now, offset)
        helpers[helper_id] = updated(helper, load=change(helper.load, today))

    def decision(self, requests: dict[str, RequestState] | None = None) -> Decision:
        return Decision(events=tuple(self.events), requests=requests or {}, helpers=self.helpers)
