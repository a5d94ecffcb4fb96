"""Quiet hours changed back and forth while they hold a chore (session 43 review R2 of
ae0949c, `request_commands.quiet_hours_changed`).

(3) An extension moved the request's end later by as much, a shortening never moved it back:
07:00 -> 05:00 -> 07:00 left it 2 h later, ten 07:00 <-> 09:00 flaps 20 h. Now a chore held at
submission ends as `submit` counts it from the new hold's end, a paused one's end moves by the
difference either way: flaps leave it where one change would.

(4) The command carried no hours: the core read the worker's live view, so the same command
replayed after staff changed the hours back (a crash between events and tables) decided
otherwise under the same event ids. Now it carries the hours the worker saw and is decided
from them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from schemas.commands import Command, ReportQuietHoursChanged
from schemas.vocab import Category, Urgency
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_quiet_hours_changed_s43 import (
    at,
    held_chore,
    hours_command,
    kinds,
    look_again,
    set_hours,
    world,
)


def paused_chore(w: World) -> None:
    """A chore whose rung's wait ends after 22:00: paused until 07:00."""
    w.now = at(6, 21, 59, 59)
    w.submit("r", urgency=Urgency.NORMAL, category=Category.ERRAND, skills=())
    w.tick("r")
    assert w.request("r").held_until == at(7, 7) and w.request("r").offers


def flap(w: World, *ends: int) -> None:
    """Staff set the hours to 22:00-`end` for each of `ends` in turn, a second apart, each
    change looked at by the worker's command."""
    for end in ends:
        w.now += timedelta(seconds=1)
        set_hours(w, 22, end)
        look_again(w)


def test_a_held_chore_shortened_and_restored_ends_where_it_did():
    w = world()
    held_chore(w)
    ends = w.request("r").ends_at
    w.now = at(6, 23, 30)
    flap(w, 5)
    shortened = w.request("r").ends_at
    assert w.request("r").held_until == at(7, 5) and shortened < ends
    flap(w, 7)
    assert w.request("r").held_until == at(7, 7)
    assert w.request("r").ends_at == ends  # was 2 h later


def test_a_held_chore_flapping_between_hours_ends_where_one_change_would():
    once = world()
    held_chore(once)
    once.now = at(6, 23, 30)
    flap(once, 9)
    w = world()
    held_chore(w)
    ends = w.request("r").ends_at
    w.now = at(6, 23, 30)
    flap(w, *[9, 7] * 10)
    assert w.request("r").held_until == at(7, 7) and w.request("r").ends_at == ends  # +20 h
    flap(w, 9)
    assert w.request("r").ends_at == once.request("r").ends_at


def test_a_paused_chore_flapping_between_hours_ends_where_one_change_would():
    w = world()
    paused_chore(w)
    ends = w.request("r").ends_at
    w.now = at(6, 23, 30)
    flap(w, 5, 7)
    assert w.request("r").held_until == at(7, 7)
    assert w.request("r").ends_at == ends  # was 2 h later
    flap(w, *[9, 7] * 10)
    assert w.request("r").ends_at == ends  # was 20 h later
    flap(w, 9)
    assert w.request("r").held_until == at(7, 9)
    assert w.request("r").ends_at == ends + timedelta(hours=2)


def test_a_command_is_decided_from_the_hours_it_carries_not_the_live_ones():
    """Sent once staff removed the hours; decided (a replay after a crash between events and
    tables) when they had put them back: the same events as when it was sent."""

    def removed_and_sent() -> tuple[World, Command]:
        w = world()
        held_chore(w)
        w.now = at(6, 23, 30)
        set_hours(w, None, None)
        return w, hours_command(w, "r", at(7, 7), w.now)

    first, cmd = removed_and_sent()
    as_sent = first.run(cmd)
    assert "request_released" in kinds(as_sent) and first.offered(as_sent)
    replay, cmd = removed_and_sent()
    set_hours(replay, 22, 7)  # restored before the command is decided again
    again = replay.run(cmd)
    assert again.events == as_sent.events  # was: nothing (held on to 07:00)
    assert replay.request("r").held_until is None
    # The live view is the worker's again after the decision.
    assert replay.state.policy(COMMUNITY).quiet_end is not None


def test_a_zone_the_core_cannot_load_is_refused_at_the_send():
    with pytest.raises(ValidationError, match="unknown time zone"):
        ReportQuietHoursChanged(request_id="r", quiet_hours=None, time_zone="America")
