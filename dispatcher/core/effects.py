"""Collects what one command causes, without touching the state: events (with ids
derived from the command id and their position) and changed helper records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from dispatcher.core.load import local_day
from dispatcher.core.state import Decision, DispatchState
from schemas.commands import Command
from schemas.events import Event, EventBody, make_event
from schemas.records import HelperLoad, HelperState, RequestState


class Effects:
    def __init__(self, state: DispatchState, command: Command, now: datetime) -> None:
        self.state = state
        self.command = command
        self.now = now
        self.events: list[Event] = []
        self.helpers: dict[str, HelperState] = {}

    def emit(self, body: EventBody, request_id: str | None) -> None:
        self.events.append(
            make_event(
                body,
                command_id=self.command.command_id,
                index=len(self.events),
                community_id=self.command.community_id,
                request_id=request_id,
                occurred_at=self.now,
            )
        )

    def helper(self, helper_id: str) -> HelperState | None:
        pending = self.helpers.get(helper_id)
        return pending if pending is not None else self.state.helpers.get(helper_id)

    def put_helper(self, helper: HelperState) -> None:
        self.helpers[helper.helper_id] = helper

    def update_load(self, helper_id: str, change: Callable[[HelperLoad, date], HelperLoad]) -> None:
        helper = self.helper(helper_id)
        if helper is None:
            return  # a helper removed from the roster since: nothing to count
        today = local_day(self.now, helper.profile.utc_offset_minutes)
        self.put_helper(helper.model_copy(update={"load": change(helper.load, today)}))

    def decision(self, requests: dict[str, RequestState] | None = None) -> Decision:
        return Decision(events=tuple(self.events), requests=requests or {}, helpers=self.helpers)
