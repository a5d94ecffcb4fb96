"""Quiet hours in a community whose zone keeps daylight saving: the end is read by the wall
clock. On a fall-back night a chore at the second 01:10 waits for the second 01:30 (not a
release time already past, with the group told "将于01:30"); on a spring-forward night an end
inside the skipped hour is the moment the clock jumps past it."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from dispatcher.core.community import CommunityPolicy
from schemas.vocab import Category, Urgency
from tests.unit.conftest import COMMUNITY, World


def _local(zone: str, *a: int, fold: int = 0) -> datetime:
    return datetime(*a, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


@pytest.mark.parametrize(
    ("zone", "quiet", "at", "held_until"),
    [
        # New York, 2024-11-03: 01:00-02:00 twice. The second 01:10 (06:10 UTC) waits for
        # the second 01:30 (06:30 UTC); the first 01:10 for the first 01:30 (05:30 UTC).
        ("America/New_York", ("22:00", "01:30"), (2024, 11, 3, 1, 10, 1), (2024, 11, 3, 6, 30)),
        ("America/New_York", ("22:00", "01:30"), (2024, 11, 3, 1, 10, 0), (2024, 11, 3, 5, 30)),
        ("America/New_York", ("22:00", "01:30"), (2024, 11, 2, 23, 0, 0), (2024, 11, 3, 5, 30)),
        # Berlin, 2024-03-31: 02:00-03:00 never shows. An end at 02:30 is 03:00 CEST.
        ("Europe/Berlin", ("22:00", "02:30"), (2024, 3, 30, 23, 0, 0), (2024, 3, 31, 1, 0)),
        # Shanghai keeps no daylight saving: as before.
        ("Asia/Shanghai", ("22:00", "07:00"), (2024, 3, 6, 6, 59, 0), (2024, 3, 5, 23, 0)),
    ],
)
def test_a_chore_in_quiet_hours_waits_for_their_end_by_the_wall_clock(
    zone: str, quiet: tuple[str, str], at: tuple[int, ...], held_until: tuple[int, ...]
) -> None:
    w = World()
    w.helper("n1")
    w.state.communities = {
        COMMUNITY: CommunityPolicy(
            quiet_start=time.fromisoformat(quiet[0]),
            quiet_end=time.fromisoformat(quiet[1]),
            zone=ZoneInfo(zone),
        )
    }
    *wall, fold = at
    w.now = _local(zone, *wall, fold=fold)
    w.submit("r", urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    r = w.request("r")
    assert r.held_until == datetime(*held_until, tzinfo=UTC)
    assert r.held_until > w.now
