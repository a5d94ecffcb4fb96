"""The straightforward alternative to the index: scan every helper, rank, sort.

Kept as the reference the benchmark compares against, and that tests use to check the
index chooses the same helpers whenever its buckets fit within the scan limit.
"""

from __future__ import annotations

from collections.abc import Iterable

from dispatcher.core.context import SearchContext
from dispatcher.core.eligibility import fits, holds_presence, is_eligible, rank_key, ring_of
from dispatcher.core.entry import HelperEntry
from dispatcher.core.index import Candidate
from schemas.plans import RING_ORDER
from schemas.requests import SkillNeed
from schemas.vocab import Ring


def scan_search(
    entries: Iterable[HelperEntry],
    ctx: SearchContext,
    need: SkillNeed,
    max_ring: Ring,
    limit: int,
    exclude: set[str],
) -> list[Candidate]:
    stop = RING_ORDER[max_ring]
    found: list[Candidate] = []
    for entry in entries:
        if entry.helper_id in exclude:
            continue
        ring = ring_of(entry, ctx)
        if RING_ORDER[ring] > stop or not fits(entry, need, ring):
            continue
        if not need.remote and holds_presence(entry, ctx.clock.now, ctx.urgency_rank):
            continue
        if is_eligible(entry, ctx):
            found.append(Candidate(entry.helper_id, ring, rank_key(entry, need, ring, ctx)))
    found.sort(key=lambda c: c.key)
    return found[:limit]
