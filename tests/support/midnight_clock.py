"""A pytest plugin for deploy/local/midnight.sh (never loaded by `make test`): at each test
module's start, the shared libfaketime clock file is set so that the wall clock of every
process reading it (pytest, the workers and APIs it starts, the shifted PostgreSQL) reads
DISPATCH_MIDNIGHT_LEAD seconds before the next local midnight; time flows on from there
through the module, as it would for a CI run started then."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.support.local_day import seconds_to_local_midnight

_DAY = 86400.0
_SETTLE_S = 1.2  # every process re-reads the clock file within FAKETIME_CACHE_DURATION (1 s)


def offset_for(real_now: float, lead_s: float) -> float:
    """Seconds to add to the real wall clock `real_now` (epoch seconds) so that it reads
    `lead_s` before a local midnight: the nearest such midnight, back or forward."""
    to_next = seconds_to_local_midnight(datetime.fromtimestamp(real_now, UTC))
    offset = to_next - lead_s
    return offset - _DAY if offset > _DAY / 2 else offset


@pytest.fixture(autouse=True, scope="module")
def _module_starts_before_midnight() -> Iterator[None]:
    real0 = float(os.environ["DISPATCH_MIDNIGHT_REAL0"])
    mono0 = float(os.environ["DISPATCH_MIDNIGHT_MONO0"])
    real_now = real0 + (time.monotonic() - mono0)  # the monotonic clock is never shifted
    # Placed for the moment every process has read it: the module starts `lead` before.
    offset = offset_for(real_now + _SETTLE_S, float(os.environ["DISPATCH_MIDNIGHT_LEAD"]))
    with open(os.environ["DISPATCH_MIDNIGHT_CLOCK"], "w") as f:
        f.write(f"{offset:+.3f}\n")
    time.sleep(_SETTLE_S)
    yield
