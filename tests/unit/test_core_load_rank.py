"""The index ranks by load terms precomputed on each entry when its load changes
(`HelperEntry.load_rank`); the scan computes them from the load itself each time. With
loads of every shape — today's and yesterday's counters, answer histories, last offered
or never — both still choose the same helpers in the same order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.bench.community import build_state
from dispatcher.core.context import SearchContext
from dispatcher.core.entry import rank_of_load
from dispatcher.core.scan import scan_search
from schemas.records import HelperLoad
from schemas.requests import SkillNeed
from schemas.vocab import Ring, Skill
from tests.unit.conftest import search_context

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)  # 2024-03-05 20:00 in China
TODAY = date(2024, 3, 5)

loads = st.builds(
    HelperLoad,
    day=st.sampled_from([None, TODAY, TODAY - timedelta(days=1)]),
    offers_today=st.integers(0, 3),
    assignments_today=st.integers(0, 2),
    last_offered_at=st.one_of(
        st.none(), st.integers(1, 600).map(lambda m: NOW - timedelta(minutes=m))
    ),
    accepted_total=st.integers(0, 9),
    declined_total=st.integers(0, 9),
    no_answer_total=st.integers(0, 9),
)


def _ctx(household: int) -> SearchContext:
    return search_context(household, NOW, scan_limit=1000)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 1000),
    household=st.integers(0, 399),
    assigned=st.lists(st.tuples(st.integers(0, 399), loads), min_size=1, max_size=120),
    skills=st.lists(st.sampled_from([Skill.DRIVING, Skill.NURSE, Skill.CARRYING]), max_size=2),
    ring=st.sampled_from([Ring.BUILDING, Ring.COMPOUND, Ring.GRID, Ring.COMMUNITY]),
    limit=st.integers(1, 15),
)
def test_precomputed_load_ranks_choose_as_the_scan_does(
    seed, household, assigned, skills, ring, limit
):
    state = build_state(400, seed, progress=False)
    for i, load in assigned:
        helper_id = f"h{i:07d}"
        entry = state.index.entries[helper_id]
        entry.refresh(state.helpers[helper_id].model_copy(update={"load": load}))
        assert entry.load_rank == rank_of_load(load)
    ctx = _ctx(household)
    need = SkillNeed(skills=tuple(dict.fromkeys(skills)))
    by_index = state.index.search(ctx, need, ring, limit, set())
    by_scan = scan_search(state.index.entries.values(), ctx, need, ring, limit, set())
    assert by_index == by_scan
