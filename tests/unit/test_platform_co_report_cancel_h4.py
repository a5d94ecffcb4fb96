"""A report merged into a request another group raised (a co-report) cannot cancel it.

Group A raises a request; a member of group B reports the same incident, which is merged
into A's request (the answer says so, and group B follows the request from then on). The
attack: that member then writes "不用了，谢谢" in group B. It used to send a requester's
CancelRequest for A's request, standing down every helper on the way while group A still
needs them. Now it only withdraws group B's report: group B is told so and stops following
the request, no command is sent. The raiser's own "不用了" still cancels, and a sender the
platform does not name cancels nothing.

Through the platform route with DingTalk callbacks signed as DingTalk signs them;
PostgreSQL's group threads are an in-memory table here that answers as the SQL does
(tests/integration/test_co_report_cancel_h4.py runs the same attack on the real stack).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from dispatcher.api import command_queue
from dispatcher.api.platforms import routes
from dispatcher.groupchat import texts
from dispatcher.record.edge import bot_calls, intake, repeat_reports
from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge.group_threads import Thread
from dispatcher.record.read import requests as read_requests
from schemas.commands import CancelRequest
from tests.support import platform_callbacks as pc
from tests.support.dingtalk_app import CommandSink, bot_app, dingtalk_bot, post_callback

BOT, GROUP, COMMUNITY = "dt-co-report", "cidGroupB==", "comm-co-report"
RAISED = "req-raised-in-group-a"
OTHER_GROUP = "cidGroupA=="  # where RAISED was raised; not this bot's test group
CO_REPORTER, RAISER = "staff-b-7", "staff-a-1"


class Replies:
    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []  # (request id, text)

    def expect(self, thread: Thread) -> None: ...

    def release(self, thread: Thread) -> None: ...

    async def immediate(self, thread: Thread, text: str, message_id: str) -> None:
        self.said.append((thread.request_id, text))


class Threads:
    """api_group_threads: (request, group) -> the sender recorded, as the SQL keeps it."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], str] = {(RAISED, OTHER_GROUP): RAISER}

    async def record(self, pool: Any, thread: Thread, sender_id: str) -> None:
        self.rows.setdefault((thread.request_id, thread.group_id), sender_id)  # ON CONFLICT

    async def forget(self, pool: Any, thread: Thread) -> None:
        self.rows.pop((thread.request_id, thread.group_id), None)

    async def open_requests_of(self, pool: Any, bot_id: str, group: str, sender: str) -> Any:
        found = [r for (r, g), s in self.rows.items() if g == group and s == sender]
        return found[::-1]  # newest first

    async def not_found_due(self, pool: Any, bot_id: str, group: str, senders: list[str]) -> bool:
        return any(g == group and s in senders for (r, g), s in self.rows.items())


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Threads:
    table = Threads()
    for name in ("record", "forget", "open_requests_of", "not_found_due"):
        monkeypatch.setattr(threads, name, getattr(table, name))

    async def merged(db: Any, **kwargs: Any) -> intake.Submitted:
        return intake.Submitted(claimed=True, earlier=RAISED)  # the same incident: merged

    async def nothing(*args: Any, **kwargs: Any) -> None: ...

    async def claimed(*args: Any, **kwargs: Any) -> bool:
        return True  # each message's cancel is new here

    monkeypatch.setattr(intake, "submit", merged)
    monkeypatch.setattr(command_queue, "send_stored", nothing)
    monkeypatch.setattr(repeat_reports, "mark_queued", nothing)  # its ReportRepeated sent
    monkeypatch.setattr(read_requests, "status", nothing)  # the earlier one: not recorded yet
    monkeypatch.setattr(routes, "claim_webhook_id", nothing)  # the replay claim
    monkeypatch.setattr(bot_calls, "claim_key", claimed)  # the cancel's idempotency key
    monkeypatch.setattr(bot_calls, "store_answer", nothing)
    return table


@pytest.fixture
def sink() -> CommandSink:
    return CommandSink()


@pytest.fixture
def app(sink: CommandSink) -> Any:
    return bot_app(dingtalk_bot(BOT, GROUP, COMMUNITY), sink)


async def say(app: Any, text: str, sender: str) -> httpx.Response:
    body = pc.dingtalk_body(text, f"m-{uuid.uuid4().hex[:12]}", sender=sender, conversation=GROUP)
    return await post_callback(app, BOT, pc.dingtalk_callback(body))


def plain(r: httpx.Response) -> bool:
    """The answer to a message that is no request and acted on nothing."""
    out = r.json()
    return out["is_request"] is False and "cancelled" not in out and "withdrawn" not in out


def cancels(sink: CommandSink) -> list[CancelRequest]:
    return [c.body for c in sink.sent if isinstance(c.body, CancelRequest)]


async def test_a_co_reporter_withdraws_their_report_and_cannot_cancel_the_request(
    app: Any,
    sink: CommandSink,
    table: Threads,
) -> None:
    app.state.group_replies = replies = Replies()
    r = await say(app, "3号楼有老人摔倒了，起不来，快来人帮忙", CO_REPORTER)
    assert r.status_code == 200 and r.json()["merged"] and r.json()["request_id"] == RAISED
    assert (RAISED, GROUP) in table.rows  # group B now follows the raised request

    r = await say(app, "不用了，谢谢", CO_REPORTER)  # the attack

    assert r.status_code == 200, r.text
    assert r.json() == {"is_request": False, "withdrawn": RAISED}
    assert cancels(sink) == []  # nothing stands the helpers down
    assert replies.said[-1] == (RAISED, texts.CO_REPORT_WITHDRAWN)
    assert (RAISED, GROUP) not in table.rows  # group B no longer follows it
    assert table.rows[(RAISED, OTHER_GROUP)] == RAISER  # group A still does

    # Said again (no report of theirs left): nothing at all.
    r = await say(app, "不用了", CO_REPORTER)
    assert plain(r) and cancels(sink) == []


async def test_the_raiser_still_cancels(app: Any, sink: CommandSink, table: Threads) -> None:
    """In the group that raised it, with a co-report from the same group merged in (which
    keeps its raiser: one thread per group)."""
    app.state.group_replies = Replies()
    table.rows = {(RAISED, GROUP): RAISER}
    await say(app, "3号楼有老人摔倒了，起不来，快来人帮忙", CO_REPORTER)
    assert table.rows == {(RAISED, GROUP): RAISER}
    r = await say(app, "不用了，谢谢", CO_REPORTER)
    assert plain(r) and cancels(sink) == []
    r = await say(app, "不用了，谢谢", RAISER)
    assert r.json() == {"is_request": False, "cancelled": RAISED}
    [cancel] = cancels(sink)
    assert cancel.request_id == RAISED


async def test_a_sender_the_platform_does_not_name_cancels_nothing(
    app: Any,
    sink: CommandSink,
    table: Threads,
) -> None:
    # Someone's request recorded under the fallback id a nameless sender gets ("unknown").
    table.rows[("req-of-a-nameless-sender", GROUP)] = "unknown"
    app.state.group_replies = Replies()
    r = await say(app, "不用了，谢谢", "")
    assert r.status_code == 200 and plain(r)
    assert cancels(sink) == []
