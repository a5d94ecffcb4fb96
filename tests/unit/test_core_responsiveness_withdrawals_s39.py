"""Responsiveness, the ranking's fairness term after today's load, counts an accept given
back: every accept shows the requester's address, so accepting and then pressing 去不了了
must not rank a helper above one who honestly declines (it used to: ten such rounds scored
0.92, ten declines 0.08, and the withdrawer was offered first the next day). A no-show
weighs more than a withdrawal; one withdrawal does not sink a helper below one who never
answers; a helper with no withdrawals scores as before."""

from __future__ import annotations

from datetime import date

from dispatcher.core import load as L
from dispatcher.core.entry import rank_of_load
from schemas.commands import WithdrawHelper
from schemas.records import HelperLoad
from schemas.vocab import Skill
from tests.unit.conftest import World, place

TODAY = date(2026, 12, 7)


def tenths(load: HelperLoad) -> int:
    """The responsiveness term as both rankings read it (larger is offered first)."""
    term = -rank_of_load(load)[2]
    assert term == round(load.responsiveness() * 10)
    return term


def history(
    kept: int = 0, withdrawn: int = 0, no_shows: int = 0, declined: int = 0, silent: int = 0
) -> HelperLoad:
    """A helper's counters as the core's own load functions leave them."""
    load = HelperLoad()
    for _ in range(kept):
        load = L.accepted(load, TODAY)
    for _ in range(withdrawn):
        load = L.withdrew(L.accepted(load, TODAY), no_show=False)
    for _ in range(no_shows):
        load = L.withdrew(L.accepted(load, TODAY), no_show=True)
    for _ in range(declined):
        load = L.declined(load)
    for _ in range(silent):
        load = L.no_answer(load)
    return load


def test_accepting_to_withdraw_never_outranks_declining() -> None:
    for n in range(1, 11):
        assert tenths(history(withdrawn=n)) <= tenths(history(declined=n)), n
    # From the third time it ranks below: 0.08 against 0.2, and 0 against 0.08 at ten.
    for n in range(3, 11):
        assert tenths(history(withdrawn=n)) < tenths(history(declined=n)), n
    assert history(withdrawn=10).responsiveness() == 0.0  # floored, never negative
    # Mixed in with kept accepts too: five kept and five given back rank below five kept
    # and five declined.
    assert tenths(history(kept=5, withdrawn=5)) < tenths(history(kept=5, declined=5))


def test_a_no_show_ranks_below_a_withdrawal() -> None:
    for kept in range(4):
        for n in range(1, 4):
            shown, withdrew = history(kept, no_shows=n), history(kept, withdrawn=n)
            assert shown.responsiveness() < withdrew.responsiveness(), (kept, n)
            assert tenths(shown) <= tenths(withdrew), (kept, n)
    assert tenths(history(no_shows=1)) < tenths(history(withdrawn=1))


def test_one_withdrawal_for_a_real_reason_ranks_level_with_never_answering() -> None:
    once = tenths(history(withdrawn=1))
    for silent in range(1, 11):
        assert once >= tenths(history(silent=silent)), silent
    # and a helper who usually comes keeps most of their standing after one
    assert tenths(history(kept=4, withdrawn=1)) > tenths(history(kept=0, silent=5))


def test_no_withdrawals_score_as_before() -> None:
    assert HelperLoad().responsiveness() == 0.5  # a newcomer
    for kept in range(6):
        for declined in range(6):
            for silent in range(3):
                load = history(kept, declined=declined, silent=silent)
                assert load.responsiveness() == (kept + 1) / (kept + declined + silent + 2)


def test_the_next_day_the_decliner_is_offered_before_the_withdrawer(world: World) -> None:
    """Six days of the same pair of offers: one helper accepts (and sees the address) and
    withdraws, the other declines. The withdrawer's id sorts first, so only responsiveness
    tells them apart: the next request goes to the decliner first."""
    world.helper("a-withdrawer", skills=(Skill.DRIVING,))
    world.helper("b-decliner", skills=(Skill.DRIVING,))
    for n in range(6):
        rid = f"r{n}"
        world.submit(
            rid, skills=(Skill.DRIVING,), helpers_needed=2, place=place(household=f"hh-x{n}")
        )
        assert {o.helper_id for o in world.request(rid).offers} == {"a-withdrawer", "b-decliner"}
        world.accept("a-withdrawer", rid)
        world.run(WithdrawHelper(request_id=rid, helper_id="a-withdrawer"))
        world.decline("b-decliner", rid)
        world.later(24 * 3600)  # a new day: today's load no longer counts
    loads = {h: world.state.helpers[h].load for h in ("a-withdrawer", "b-decliner")}
    assert loads["a-withdrawer"].withdrawn_total == 6 and loads["b-decliner"].declined_total == 6
    world.events.clear()
    world.submit(
        "next", skills=(Skill.DRIVING,), helpers_needed=1, place=place(household="hh-next")
    )
    assert world.offered()[0] == "b-decliner"
