"""Reports of one incident merged into one request, in the core.

The API's intake statement merges a bot's report into the latest other open request with
the same merge key opened within the window (migration 0370) and answers "merged". The API
may send a report's command to Kafka while that statement runs (`api/command_queue.py`),
before it knows the verdict, so the core merges by the same rule and dispatches a merged
report to nobody. The core's view is the live one: the statement reads a read model that
lags the worker, so when the two disagree the core's verdict is the one that dispatches
(a report merged into a request the worker has already closed is dispatched as its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from schemas.records import RequestState

# The API's merge window (`api/command_queue.py`): the same for the statement and the core.
MERGE_WINDOW_S = 15 * 60
# A merged report's `RequestCancelled.reason`: this, then the request it was merged into.
MERGED_INTO = "merged into "


class OpenByMergeKey:
    """Merge key → the ids of the open requests submitted with it."""

    def __init__(self) -> None:
        self._open: dict[str, list[str]] = {}

    def note(self, request: RequestState) -> None:
        """Kept in step with every stored request (`state.apply`, `DispatchState.rebuild`)."""
        key = request.merge_key
        if key is None:
            return
        ids = self._open.get(key)
        if request.terminal:
            if ids is not None and request.request_id in ids:
                ids.remove(request.request_id)
                if not ids:
                    del self._open[key]
        elif ids is None:
            self._open[key] = [request.request_id]
        elif request.request_id not in ids:
            ids.append(request.request_id)

    def earlier(
        self,
        requests: Mapping[str, RequestState],
        merge_key: str,
        request_id: str,
        now: datetime,
    ) -> str | None:
        """The request a report with `merge_key` is merged into: the latest other open one
        created within the window; None: a new request."""
        since = now - timedelta(seconds=MERGE_WINDOW_S)
        best: RequestState | None = None
        for rid in self._open.get(merge_key, ()):
            r = requests.get(rid)
            if (
                r is not None
                and rid != request_id
                and not r.terminal
                and r.created_at > since
                and (best is None or r.created_at > best.created_at)
            ):
                best = r
        return None if best is None else best.request_id

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._open.values())
