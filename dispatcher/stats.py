"""The one percentile the project reports: nearest rank, so every value reported really
happened (no interpolation between two samples). Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The `q` (0..1) percentile of a non-empty sequence, sorted or not."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    # The small slack keeps q * n = 99.00000000000001 from ranking one too high.
    rank = math.ceil(q * len(ordered) - 1e-9)
    return ordered[min(len(ordered), max(1, rank)) - 1]


def percentile(values: Sequence[float], q: float) -> float | None:
    """`nearest_rank`, or None when there are no samples."""
    return nearest_rank(values, q) if values else None
