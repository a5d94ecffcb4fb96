"""`Server-Timing` on the bot intake's answers (`POST /v1/requests`): where the API's time
went, per request, in the standard header (W3C Server Timing; browsers' developer tools
show it too).

Off by default (`DISPATCH_SERVER_TIMING`): a public endpoint has no reason to tell its
callers how long its database and Kafka took. `bench e2e` turns it on for the API it
starts and reports each phase's p50/p99 beside the intake time its load generator sees
(README, Performance), so a run says which part of the 202's latency is whose.

Phases, each timed from the end of the one before, in this order:
- `auth`: the bot's signature checked (or the staff token), its rate limit;
- `parse`: the body read and validated;
- `prepare`: ids, the spec, sealing, the command's and the answer's JSON;
- `statement`: the intake statement, PostgreSQL's one round trip (commit included);
- `queue`: the command sent to Kafka and acknowledged (acks=all);
- `total`: from the intake route's start to the answer's first byte.
A request answered early (a refusal, a replay, an error) has the phases it went through.
The durations are milliseconds and hold nothing of the request.
"""

from __future__ import annotations

import contextlib
import time
from contextvars import ContextVar, Token

HEADER = b"server-timing"


class Phases:
    """One request's marks; lives in the request task's context (`begin`)."""

    __slots__ = ("_last", "_start", "marks")

    def __init__(self, start: float) -> None:
        self._start = self._last = start
        self.marks: list[tuple[str, float]] = []  # (phase, ms)

    def mark(self, phase: str, now: float) -> None:
        self.marks.append((phase, (now - self._last) * 1e3))
        self._last = now

    def header(self, end: float) -> bytes:
        parts = [f"{phase};dur={ms:.3f}" for phase, ms in self.marks]
        parts.append(f"total;dur={(end - self._start) * 1e3:.3f}")
        return ", ".join(parts).encode()


_CURRENT: ContextVar[Phases | None] = ContextVar("server_timing", default=None)


def begin(start: float) -> tuple[Phases, Token[Phases | None]]:
    """Time this request (the current task's context) from `start` (`time.perf_counter`)."""
    phases = Phases(start)
    return phases, _CURRENT.set(phases)


def end(token: Token[Phases | None]) -> None:
    _CURRENT.reset(token)


def mark(phase: str) -> None:
    """End `phase` now, if this request is timed (a context-variable read otherwise)."""
    phases = _CURRENT.get()
    if phases is not None:
        phases.mark(phase, time.perf_counter())


def parse(value: str | None) -> dict[str, float]:
    """A `Server-Timing` value as {name: ms} (`dur` only; a repeated name adds up, as a
    phase run twice took both times); {} for None or a value without durations."""
    out: dict[str, float] = {}
    for metric in (value or "").split(","):
        name, *params = (p.strip() for p in metric.split(";"))
        for param in params:
            key, _, raw = param.partition("=")
            if key.strip().lower() == "dur" and name:
                with contextlib.suppress(ValueError):  # not a number: no duration
                    out[name] = out.get(name, 0.0) + float(raw.strip().strip('"'))
    return out
