"""The offset rules for contiguous topics (streams/offsets.py), without Kafka."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.offsets import Admit, SeekGuard, commit_offset

T = "dispatch.commands"


def guard() -> SeekGuard[int]:
    return SeekGuard(contiguous_topics=frozenset({T}))


def test_a_record_above_the_expected_offset_is_read_again() -> None:
    g = guard()
    g.seeked({0: 10})
    # faust #596: a batch fetched before the seek goes on after it (N+1 after a seek to C)
    assert g.admit(0, T, 57) is Admit.RESEEK
    assert g.expected(0) == 10
    assert g.admit(0, T, 10) is Admit.DELIVER  # the re-read starts at the expected one
    assert g.expected(0) == 11


def test_a_single_missing_head_offset_is_not_skipped() -> None:
    g = guard()
    g.seeked({0: 100})
    assert g.admit(0, T, 101) is Admit.RESEEK  # offset 100 was never seen


def test_an_offset_that_never_comes_back_is_a_hole() -> None:
    g = guard()
    g.seeked({0: 5})
    verdicts = [g.admit(0, T, 9) for _ in range(g.max_reseeks + 1)]
    assert verdicts[:-1] == [Admit.RESEEK] * g.max_reseeks
    assert verdicts[-1] is Admit.HOLE


def test_progress_resets_the_reseek_count() -> None:
    g = guard()
    g.seeked({0: 5})
    for offset in range(5, 5 + 3 * g.max_reseeks):
        assert g.admit(0, T, offset + 1) is Admit.RESEEK
        assert g.admit(0, T, offset) is Admit.DELIVER


def test_consecutive_and_replayed_offsets_are_delivered() -> None:
    g = guard()
    g.seeked({0: 3})
    for offset in (3, 4, 5, 4, 5, 6):  # a re-read of 4..5 is a replay, not a hole
        assert g.admit(0, T, offset) is Admit.DELIVER
    assert g.admit(0, T, 8) is Admit.RESEEK


def test_unknown_position_accepts_the_first_offset() -> None:
    g = guard()
    g.seeked({0: None})
    assert g.admit(0, T, 42) is Admit.DELIVER
    assert g.admit(0, T, 44) is Admit.RESEEK


def test_revoked_partitions_start_afresh() -> None:
    g = guard()
    g.seeked({0: 3, 1: 3})
    g.forget([0])
    assert g.admit(0, T, 90) is Admit.DELIVER
    assert g.admit(1, T, 90) is Admit.RESEEK


def test_gappy_topics_keep_faust_semantics() -> None:
    g = guard()
    g.seeked({0: 0})
    assert g.admit(0, "changelog", 50) is Admit.DELIVER


def test_commit_stops_at_an_unacknowledged_head() -> None:
    assert commit_offset([11, 12, 13], head=10) == (None, 0)  # faust #606 committed 14 here
    assert commit_offset([10, 11, 12], head=10) == (13, 3)
    assert commit_offset([10, 11, 13, 14], head=10) == (12, 2)  # never over the hole at 12
    assert commit_offset([], head=10) == (None, 0)
    assert commit_offset([5, 6, 10, 11], head=10) == (12, 4)  # acks below head are old
    assert commit_offset([7, 8], head=None) == (9, 2)


@given(
    st.integers(min_value=0, max_value=50),
    st.sets(st.integers(min_value=0, max_value=80), max_size=40),
)
def test_commit_never_passes_an_unacknowledged_offset(head: int, acked: set[int]) -> None:
    new, used = commit_offset(sorted(acked), head)
    if new is not None:
        assert all(o in acked for o in range(head, new))
        assert new > head
    assert 0 <= used <= len(acked)
