"""bench intake --compare: the two APIs get the same share of requests, in rotating order."""

from __future__ import annotations

from collections import Counter

from dispatcher.bench.intake import side_for


def test_each_api_gets_an_equal_share_and_goes_first_in_turn() -> None:
    order = [side_for(i, 2) for i in range(8)]
    assert order == [0, 1, 1, 0, 0, 1, 1, 0]
    assert Counter(side_for(i, 3) for i in range(300)) == {0: 100, 1: 100, 2: 100}
    firsts = [side_for(r * 3, 3) for r in range(6)]
    assert sorted(set(firsts)) == [0, 1, 2]
