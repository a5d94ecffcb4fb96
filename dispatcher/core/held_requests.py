"""The requests a worker holds: live ones as models, long-closed ones as their JSON.

A closed request is kept for a day (`state.KEEP_TERMINAL_S`: a duplicate submission or a
late click still finds it), but nearly nothing reads it again. As a model it is ~25 objects
(its spec, offers, assignments and their dicts), every one walked by each full garbage
collection, so a day's closed requests made every full collection — a stall of the whole
worker — longer as the day went on (streams/gc_stats.py). `cool` turns those closed for a
while into their JSON: one bytes object, which the collector does not track. Reading one
back validates the JSON, exactly as a rebuild from the table does (the same model: the tests
of `core.trusted` show a record's JSON validates back to an identical one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from datetime import datetime

from dispatcher.core.trusted import share_fields_sets
from schemas.records import RequestState


class HeldRequests(MutableMapping[str, RequestState]):
    def __init__(self, requests: Mapping[str, RequestState] | None = None) -> None:
        self._live: dict[str, RequestState] = dict(requests or {})
        # Closed requests read back only on demand: id → (closed at, the record's JSON).
        self._cold: dict[str, tuple[datetime, bytes]] = {}

    def __getitem__(self, request_id: str) -> RequestState:
        live = self._live.get(request_id)
        if live is not None:
            return live
        _, raw = self._cold[request_id]  # KeyError: not held
        # Not made live again: a decision that changes it stores it (`__setitem__`).
        return share_fields_sets(RequestState.model_validate_json(raw))

    def __setitem__(self, request_id: str, request: RequestState) -> None:
        self._cold.pop(request_id, None)
        self._live[request_id] = request

    def __delitem__(self, request_id: str) -> None:
        if self._live.pop(request_id, None) is None:
            del self._cold[request_id]

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._live or request_id in self._cold

    def __iter__(self) -> Iterator[str]:
        yield from list(self._live)
        yield from list(self._cold)

    def __len__(self) -> int:
        return len(self._live) + len(self._cold)

    def live(self) -> Iterable[RequestState]:
        """The requests held as models: every open one, and the recently closed."""
        return self._live.values()

    @property
    def cold_count(self) -> int:
        return len(self._cold)

    def cool(self, cutoff: datetime) -> int:
        """Keep the requests closed at or before `cutoff` (with no deadline left) as their
        JSON; returns how many were cooled."""
        cooled = [
            r
            for r in self._live.values()
            if r.terminal
            and r.closed_at is not None
            and r.closed_at <= cutoff
            and r.next_deadline is None
        ]
        for r in cooled:
            assert r.closed_at is not None  # for mypy: filtered above
            self._cold[r.request_id] = (r.closed_at, r.model_dump_json().encode())
            del self._live[r.request_id]
        return len(cooled)

    def closed_before(self, cutoff: datetime) -> list[str]:
        """Ids of the terminal requests closed at or before `cutoff`, live or cold."""
        return [
            rid
            for rid, r in self._live.items()
            if r.terminal and r.closed_at is not None and r.closed_at <= cutoff
        ] + [rid for rid, (closed_at, _) in self._cold.items() if closed_at <= cutoff]
