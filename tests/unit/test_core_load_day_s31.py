"""A helper's per-day counters never go back a day.

A command stamped just before local midnight can be applied after one stamped just after it
(the API stamps its commands, the timer its deadlines). Any other day used to count as a new
one: the 23:59:58 offer moved `load.day` back and set offers_today to 1, and the next offer
moved it forward again and wiped the new day's count (4 offers on 6 March, counted as 1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dispatcher.core.load import accepted
from dispatcher.core.team_members import signed_up
from schemas.records import HelperLoad
from schemas.vocab import Skill
from tests.unit.conftest import World

MIDNIGHT_CN = datetime(2024, 3, 5, 16, 0, tzinfo=UTC)  # 00:00 on 6 March in China


def _offer_at(w: World, i: int, when: datetime) -> None:
    w.now = when
    w.submit(f"r{i}")


def test_an_offer_stamped_before_midnight_does_not_move_the_day_back() -> None:
    w = World()
    w.now = MIDNIGHT_CN - timedelta(hours=1)
    w.helper("v", skills=[Skill.DRIVING])
    for i, s in enumerate((5, 10, 15)):
        _offer_at(w, i, MIDNIGHT_CN + timedelta(seconds=s))
    _offer_at(w, 9, MIDNIGHT_CN - timedelta(seconds=2))  # applied after them
    load = w.state.helpers["v"].load
    assert (load.day, load.offers_today, load.offers_total) == (date(2024, 3, 6), 3, 4)
    assert load.last_offered_at == MIDNIGHT_CN + timedelta(seconds=15)
    _offer_at(w, 10, MIDNIGHT_CN + timedelta(seconds=20))
    load = w.state.helpers["v"].load
    assert (load.day, load.offers_today, load.offers_total) == (date(2024, 3, 6), 4, 5)


def test_an_accept_stamped_the_day_before_counts_only_in_the_totals() -> None:
    load = HelperLoad(day=date(2024, 3, 6), offers_today=3, assignments_today=1)
    after = accepted(load, date(2024, 3, 5))
    assert (after.day, after.offers_today, after.assignments_today) == (date(2024, 3, 6), 3, 1)
    assert after.accepted_total == 1
    # A new day still starts the per-day counters again.
    later = accepted(load, date(2024, 3, 7))
    assert (later.day, later.offers_today, later.assignments_today) == (date(2024, 3, 7), 0, 1)


def test_a_member_signed_up_on_an_earlier_day_leaves_the_later_days_counts() -> None:
    """A leader's accept stamped before local midnight, applied after the member's load
    was counted on the next day: the later day's counts stay (team sign-ups)."""
    later = date(2024, 3, 6)
    load = HelperLoad(day=later, offers_today=3, assignments_today=2)
    assert signed_up(load, date(2024, 3, 5)) == load
    assert signed_up(load, later).assignments_today == 3
