"""The group of a chore paused for quiet hours (`RequestPaused`, a6ffea7) is told once that
nothing new goes out until they end and that neighbours already asked can still accept;
before, `update_for` had no text for it and the group heard nothing."""

from __future__ import annotations

from dispatcher.groupchat.texts import update_for
from tests.unit.test_quiet_hours_pause_s39 import at, chore, run_out, world


def test_the_group_hears_of_the_pause_once_with_its_end() -> None:
    w = world()
    w.now = at(6, 21, 59, 59)
    chore(w)
    run_out(w)
    paused = [e for e in w.events if e.body.type == "request_paused"]
    assert len(paused) == 1
    text = update_for(paused[0])
    assert text is not None
    assert "安静时段" in text and "07:00" in text and "仍可接单" in text
