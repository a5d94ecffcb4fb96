"""A remote helper's buttons and accepted page name a call only when they were shown a
phone (session 41, after 701027c/dc388b0): a requester without one is reached in the group
(tests/integration/test_remote_no_phone_page_s41.py runs the pages on the real stack)."""

from __future__ import annotations

from dispatcher.api.assignment_pages import REMOTE_NO_PHONE, remote_lead, section
from dispatcher.record.read.assignments import Progress

REMOTE = Progress(
    remote=True,
    on_way_at=None,
    done_at=None,
    minutes_spent=None,
    released_why=None,
    request_closed=False,
)


def test_no_phone_no_call_button() -> None:
    buttons = section("tok", REMOTE, reach="group")
    assert "打电话" not in buttons and "已在群内联系" in buttons
    assert "正在打电话" in section("tok", REMOTE, reach="phone")
    assert "电话" not in section("tok", REMOTE)  # not known: no call named


def test_no_phone_page_sends_them_to_the_group() -> None:
    assert REMOTE_NO_PHONE in remote_lead("group") and "致电" not in remote_lead("group")
    assert "请尽快致电求助人" in remote_lead("phone")
