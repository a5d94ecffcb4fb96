"""Session 41: what the personal page says while an in-person assignment holds the helper
(`helper_pages.held_note`; the page and the read model's holds in
tests/integration/test_held_note_s41.py and test_presence_held_read_s41.py). Truthful: a
critical hold keeps every other in-person request away, a lesser one all but the more urgent;
phone help is not held back; the time is the community's clock; the building only."""

from __future__ import annotations

from datetime import UTC, datetime

from dispatcher.api.helper_pages import held_note
from dispatcher.core.community import DEFAULT_ZONE
from dispatcher.record.read.assignments import PresenceHeld

NOW = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai


def test_a_lesser_hold_says_only_more_urgent_requests_call_them() -> None:
    until = datetime(2031, 5, 4, 15, 0, tzinfo=UTC)  # 23:00 local
    said = held_note([PresenceHeld("图强小区 3号楼", until, critical=False)], NOW, DEFAULT_ZONE)
    assert said == (
        '<p class="note">您正在帮助一位邻居（图强小区 3号楼）。在此期间（最晚到今天23:00），'
        "只有更紧急的求助才会请您前往，需要电话指导的求助不受影响。"
        "完成后请在接单页面点“已完成”。</p>"
    )


def test_a_critical_hold_says_no_other_request_in_person() -> None:
    until = datetime(2031, 5, 4, 17, 0, tzinfo=UTC)  # 01:00 local, the next day
    said = held_note([PresenceHeld(None, until, critical=True)], NOW, DEFAULT_ZONE)
    assert "您正在帮助一位邻居。" in said  # no building recorded: none named
    assert "最晚到明天01:00" in said and "我们不会再请您前往其他求助" in said
    assert "更紧急" not in said


def test_no_hold_says_nothing_and_a_label_is_escaped() -> None:
    assert held_note([], NOW, DEFAULT_ZONE) == ""
    odd = held_note([PresenceHeld("<b>3号楼</b>", NOW, critical=False)], NOW, DEFAULT_ZONE)
    assert "<b>" not in odd and "&lt;b&gt;" in odd
