"""The one percentile: nearest rank, a value that really occurred."""

from __future__ import annotations

import pytest

from dispatcher.stats import nearest_rank, percentile


def test_nearest_rank() -> None:
    hundred = [float(i) for i in range(100, 0, -1)]  # unsorted on purpose
    assert nearest_rank(hundred, 0.50) == 50.0
    assert nearest_rank(hundred, 0.99) == 99.0
    assert nearest_rank(hundred, 1.0) == 100.0
    assert nearest_rank(hundred, 0.0) == 1.0
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0  # no interpolation (not 2.5)
    assert nearest_rank([7.0], 0.99) == 7.0
    # 0.07 * 100 is 7.000000000000001 in floating point: still the 7th value, not the 8th.
    assert nearest_rank(hundred, 0.07) == 7.0
    with pytest.raises(ValueError):
        nearest_rank([], 0.5)


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0], 0.5) == 1.0
