"""Session 39's timeline of the core for the 'ended' outcome: four requests opened at once,
one taken and never done (its lifetime ends it: `RequestResolved(by=system)`), one its
helper reported done, one staff resolved, one nobody took (it expires)."""

from __future__ import annotations

from datetime import datetime

from schemas.commands import CompleteAssignment, ResolveRequest
from schemas.events import Event, RequestResolved
from schemas.vocab import Party, Skill
from tests.unit.conftest import World

# What the read model records of each: (status, outcome).
EXPECTED = {
    "req-ended": ("resolved", "ended"),
    "req-done": ("resolved", "resolved"),
    "req-staff": ("resolved", "resolved"),
    "req-expired": ("expired", "expired"),
}


def timeline(now: datetime | None = None) -> World:
    """The four requests, opened at `now` (the World's own start when None), closed."""
    w = World()
    if now is not None:
        w.now = now
    for hid in ("h-late", "h-done", "h-staff"):
        w.helper(hid, skills=[Skill.DRIVING])
    for rid in EXPECTED:
        w.submit(rid)
    w.accept("h-late", "req-ended")
    w.accept("h-done", "req-done")
    w.accept("h-staff", "req-staff")
    w.run(CompleteAssignment(request_id="req-done", helper_id="h-done", minutes=20))
    w.run(ResolveRequest(request_id="req-staff", by=Party.STAFF))
    for rid in ("req-ended", "req-expired"):
        while w.request(rid).next_deadline is not None:
            w.tick(rid)
    return w


def resolutions(w: World) -> dict[str, Event]:
    """The timeline's request_resolved events, by request id: by the system, by the helper,
    by staff."""
    found = {e.request_id or "": e for e in w.events if isinstance(e.body, RequestResolved)}
    by = {rid: e.body.by for rid, e in found.items() if isinstance(e.body, RequestResolved)}
    assert by == {"req-ended": Party.SYSTEM, "req-done": Party.HELPER, "req-staff": Party.STAFF}
    return found
