"""The index chooses exactly what a scan-and-sort of every helper would (while rings fit
the scan limit), and stays correct when a ring is read through a window."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.bench.community import build_state
from dispatcher.core.context import SearchContext
from dispatcher.core.eligibility import is_eligible
from dispatcher.core.entry import HelperEntry
from dispatcher.core.index import HelperIndex
from dispatcher.core.scan import scan_search
from schemas.requests import SkillNeed
from schemas.vocab import Ring, Skill
from tests.unit.conftest import search_context

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def _ctx(household: int, scan_limit: int = 256) -> SearchContext:
    return search_context(household, NOW, scan_limit)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 600),
    seed=st.integers(0, 1000),
    household=st.integers(0, 599),
    skills=st.lists(st.sampled_from([Skill.DRIVING, Skill.NURSE, Skill.FIRST_AID]), max_size=2),
    ring=st.sampled_from([Ring.PAIRED, Ring.BUILDING, Ring.COMPOUND, Ring.GRID, Ring.COMMUNITY]),
    limit=st.integers(1, 12),
)
def test_index_search_equals_scan_and_sort(n, seed, household, skills, ring, limit):
    state = build_state(n, seed, progress=False)
    ctx = _ctx(household % n, scan_limit=1000)
    need = SkillNeed(skills=tuple(dict.fromkeys(skills)))
    by_index = state.index.search(ctx, need, ring, limit, set())
    by_scan = scan_search(state.index.entries.values(), ctx, need, ring, limit, set())
    assert by_index == by_scan


def test_big_ring_is_read_through_a_bounded_window():
    state = build_state(20_000, seed=3, progress=False)
    ctx = _ctx(5, scan_limit=64)
    need = SkillNeed(skills=(Skill.DRIVING,))
    found = state.index.search(ctx, need, Ring.COMMUNITY, 250, set(), seed=12345)
    assert len(found) == 250
    assert len({c.helper_id for c in found}) == 250
    for c in found:
        entry = state.index.entries[c.helper_id]
        assert Skill.DRIVING in entry.skills and is_eligible(entry, ctx)
    assert [c.key for c in found] == sorted(c.key for c in found)
    # Another request reads another window: load spreads across the community.
    other = state.index.search(ctx, need, Ring.COMMUNITY, 250, set(), seed=999)
    far = {c.helper_id for c in found if c.ring is Ring.COMMUNITY}
    assert far and far != {c.helper_id for c in other if c.ring is Ring.COMMUNITY}


def test_remove_and_upsert_keep_buckets_consistent():
    state = build_state(200, seed=1, progress=False)
    index: HelperIndex = state.index
    ctx = _ctx(0)
    need = SkillNeed()
    before = index.search(ctx, need, Ring.COMMUNITY, 500, set())
    victim = before[0].helper_id
    entry = index.entries[victim]
    index.remove(victim)
    assert victim not in {c.helper_id for c in index.search(ctx, need, Ring.COMMUNITY, 500, set())}
    index.upsert(entry)
    assert index.search(ctx, need, Ring.COMMUNITY, 500, set()) == before


def _bucketed(index: HelperIndex) -> list[HelperEntry]:
    """Every entry held in a bucket; and each bucket sorted by helper id."""
    held: list[HelperEntry] = []
    for bucket in index._buckets.values():
        ids = [e.helper_id for e in bucket]
        assert ids == sorted(ids)
        held.extend(bucket)
    return held


def test_buckets_hold_the_current_entries_after_an_upsert_with_the_same_buckets():
    """The buckets hold entries, not ids: an upsert that keeps a helper's buckets (a new
    phone, gender or availability) must put the new entry in each, or the search would
    rank the helper by the old one."""
    state = build_state(200, seed=1, progress=False)
    index: HelperIndex = state.index
    ctx = _ctx(0)
    need = SkillNeed()
    victim = index.search(ctx, need, Ring.COMMUNITY, 500, set())[0].helper_id
    old = index.entries[victim]
    new = dataclasses.replace(old, active=False)  # same static facts, no longer eligible
    assert old.same_static_facts(new)
    index.upsert(new)
    held = _bucketed(index)
    assert old not in held and new in held
    assert all(e is index.entries[e.helper_id] for e in held)
    assert victim not in {c.helper_id for c in index.search(ctx, need, Ring.COMMUNITY, 500, set())}
    assert index.search(ctx, need, Ring.COMMUNITY, 500, set()) == scan_search(
        index.entries.values(), ctx, need, Ring.COMMUNITY, 500, set()
    )
    index.remove(victim)
    assert victim not in {e.helper_id for e in _bucketed(index)}
