"""A community's own settings as the core reads them: its plan set, quiet hours and zone.

Data passed in (the worker builds it from its live configuration view); the core never
reads configuration itself. Quiet hours hold a new non-urgent request until they end:
nobody is asked for a chore at night, and the requester's group is told when it goes out.
One already climbing its ladder when they begin pauses through them
(`ladder.paused_for_quiet_hours`, at the first thing it would send in them): no rung, no
replacement offer, no whistle or referral until they end; offers already out can still
be accepted, staff's own actions work as ever, and one event says when it goes on
(for the requester's group: `RequestPaused`). At their end the ladder goes on with its
next rung (a rung whose wait was not over keeps its own deadline, its lost offers
replaced: `ladder.resume`). Their hours do not count in such a request's lifetime
(`ladder.lifetime_end`), so it never ends in the night. Critical and urgent requests
and any red flag (life threatening) are never held nor paused: they climb at night as by
day.
The zone is also its helpers' clock: their windows and load day are read in it
(`LocalClock`, `Effects`), so a helper's night and the community's agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from schemas.plans import EscalationPlan
from schemas.requests import RequestSpec
from schemas.vocab import Urgency

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
# Only these urgencies wait for the end of quiet hours.
HELD_IN_QUIET_HOURS = frozenset({Urgency.NORMAL, Urgency.LOW})


def _wall_time_reached(end: datetime, now: datetime) -> datetime:
    """The first instant (UTC) after `now` at which the zone's clock shows `end`'s wall time
    or later. Usually `end` itself; on a fall-back night, when its first pass is over, its
    second (the wall clock reads it again an hour later, still inside quiet hours); on a
    spring-forward night, when `end` falls in the skipped hour, the moment the clock jumps
    past it (neither offset's reading of a wall time that never shows)."""
    first = end.replace(fold=0).astimezone(UTC)
    second = end.replace(fold=1).astimezone(UTC)
    if first <= second:  # an ordinary time (equal), or one the clock shows twice
        return first if first > now or first == second else second
    # In the gap: `second` (the later offset) is before the jump, `first` after it.
    wall = end.replace(tzinfo=None)
    lo, hi = int(second.timestamp()), int(first.timestamp())
    while hi - lo > 1:  # a second's precision: a handful of steps over an hour's gap
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, end.tzinfo).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


@dataclass(frozen=True, slots=True)
class CommunityPolicy:
    plans: Mapping[Urgency, EscalationPlan] | None = None  # None: the worker's default set
    plan_name: str = ""  # the set's name (the worker's /stats shows what it applies)
    quiet_start: time | None = None
    quiet_end: time | None = None
    zone: tzinfo = DEFAULT_ZONE

    def quiet_until(self, spec: RequestSpec, now: datetime) -> datetime | None:
        """When a request submitted at `now` may go out, if it must wait (UTC), else None."""
        start, end = self.quiet_start, self.quiet_end
        if start is None or end is None or start == end:
            return None
        if spec.urgency not in HELD_IN_QUIET_HOURS or spec.is_life_threatening():
            return None
        local = now.astimezone(self.zone)
        t = local.time().replace(tzinfo=None)
        inside = start <= t < end if start < end else (t >= start or t < end)
        if not inside:
            return None
        day = local.date() if t < end else local.date() + timedelta(days=1)
        return _wall_time_reached(datetime.combine(day, end, tzinfo=self.zone), now)

    def summary(self) -> dict[str, str | None]:
        """What the worker applies for the community (its /stats page)."""
        quiet = None
        if self.quiet_start is not None and self.quiet_end is not None:
            quiet = f"{self.quiet_start.isoformat()}-{self.quiet_end.isoformat()}"
        return {"plan": self.plan_name or None, "quiet_hours": quiet, "zone": str(self.zone)}

    def utc_offset_minutes(self, now: datetime) -> int:
        """The zone's UTC offset at `now`: a zone with daylight saving has two a year."""
        offset = now.astimezone(self.zone).utcoffset() or timedelta()
        return offset // timedelta(minutes=1)

    def local_time(self, at: datetime) -> str:
        """`at` as the community's local HH:MM (for the group's message)."""
        return at.astimezone(self.zone).strftime("%H:%M")
