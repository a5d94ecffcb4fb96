"""Session 42 audit (H2): the assignment page after 已完成 said "您已标记完成（None分钟）"
when no minutes were recorded. It now says "您已标记完成" alone then, the minutes when
there are some."""

from __future__ import annotations

from datetime import UTC, datetime

from dispatcher.api.assignment_pages import section
from dispatcher.record.read.assignments import Progress

DONE = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)


def _done(minutes: int | None) -> Progress:
    return Progress(
        remote=False,
        on_way_at=None,
        done_at=DONE,
        minutes_spent=minutes,
        released_why=None,
        request_closed=True,
    )


def test_done_without_minutes_says_no_minutes() -> None:
    shown = section("tok", _done(None))
    assert "None" not in shown and "分钟" not in shown, shown
    assert "您已标记完成。谢谢您！" in shown, shown


def test_done_with_minutes_says_them() -> None:
    assert "您已标记完成（15分钟）。谢谢您！" in section("tok", _done(15))
