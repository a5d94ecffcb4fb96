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


def test_equal_skill_sets_are_one_object_after_bulk_load_and_upsert():
    """The index shares one skill set per distinct set (a search reads every helper's:
    a shared one is in the CPU caches); the helpers' skills are unchanged."""
    state = build_state(300, seed=2, progress=False)
    index: HelperIndex = state.index
    by_value: dict[frozenset[Skill], frozenset[Skill]] = {}
    for e in index.entries.values():
        assert by_value.setdefault(e.skills, e.skills) is e.skills
    some = next(e for e in index.entries.values() if e.skills)  # () is one object anyway
    fresh = dataclasses.replace(some, skills=frozenset(set(some.skills)), active=False)
    assert fresh.skills is not some.skills
    index.upsert(fresh)
    assert index.entries[some.helper_id].skills is by_value[some.skills]


def test_requester_known_by_phone_is_skipped_but_not_a_phone_with_the_same_tag():
    """The search compares a small tag of the phone before the phone itself: a helper
    with the requester's phone is never ranked, one whose different phone shares the
    tag still is."""
    from dispatcher.core.eligibility import eligible_ranker
    from dispatcher.core.entry import phone_tag

    ctx = dataclasses.replace(_ctx(0), requester_phone="13800000000")
    tag = phone_tag(ctx.requester_phone)
    twin = next(p for i in range(100_000) if phone_tag(p := f"139{i:08d}") == tag)
    state = build_state(20, seed=3, progress=False)
    base = next(e for e in state.index.entries.values() if is_eligible(e, ctx))
    rank = eligible_ranker(ctx)
    same = dataclasses.replace(base, phone="13800000000")
    assert same.phone_tag == tag and rank(same, 0, True) is None
    other = dataclasses.replace(base, phone=twin)
    assert other.phone_tag == tag and rank(other, 0, True) is not None
    assert dataclasses.replace(base, phone=None).phone_tag == -1
