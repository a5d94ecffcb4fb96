"""A report merged into an earlier request (rev30 groupchat finding 6), through the platform
route: the group's answer is keyed by the platform message, the earlier request's thread is
recorded for this group, and the thread recorded for the report's own id (a request that
never exists) is dropped, so "不用了" from this sender cannot find it."""

from __future__ import annotations

from typing import Any

import pytest

from dispatcher.api import command_queue
from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge import intake, repeat_reports
from dispatcher.record.edge.group_threads import Thread
from dispatcher.record.read import requests as read_requests
from tests.unit.test_platform_cancel_emergency import app, say, sink  # noqa: F401

EARLIER = "req-earlier"


class Replies:
    def __init__(self) -> None:
        self.answered: list[tuple[str, str]] = []  # (request id, message id)

    def expect(self, thread: Thread) -> None: ...

    def release(self, thread: Thread) -> None: ...

    async def immediate(self, thread: Thread, text: str, message_id: str) -> None:
        self.answered.append((thread.request_id, message_id))


async def test_a_merged_report_is_answered_and_leaves_no_orphan_thread(
    app: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded: list[str] = []

    async def record(pool: Any, thread: Thread, sender_id: str) -> None:
        recorded.append(thread.request_id)

    async def forget(pool: Any, thread: Thread) -> None:
        recorded.remove(thread.request_id)

    async def merged(db: Any, **kwargs: Any) -> intake.Submitted:
        return intake.Submitted(claimed=True, earlier=EARLIER)

    async def nothing(*args: Any, **kwargs: Any) -> None: ...

    monkeypatch.setattr(threads, "record", record)
    monkeypatch.setattr(threads, "forget", forget, raising=False)
    monkeypatch.setattr(intake, "submit", merged)
    monkeypatch.setattr(command_queue, "send_stored", nothing)
    monkeypatch.setattr(repeat_reports, "mark_queued", nothing)  # its ReportRepeated sent
    monkeypatch.setattr(read_requests, "status", nothing)  # the earlier one: not recorded yet
    app.state.group_replies = replies = Replies()
    r = await say(app, "3号楼有老人摔倒了，起不来，快来人帮忙")
    assert r.status_code == 200, r.text
    assert r.json()["request_id"] == EARLIER and r.json()["merged"]
    assert recorded == [EARLIER]
    [(request_id, message_id)] = replies.answered
    assert request_id == EARLIER and message_id.startswith("m-")
