"""A remote helper of a requester who left no phone and asked in no group is sent to the
community's staff, not to a group that does not exist (session 41 review of 11e85d0,
ed578d7).

Before: "求助人未留电话，请在求助的群内@求助人联系" was said whenever the phone was missing,
also for a staff or plain-API request with no `source.group_id`. The push (planner: the
request's `source`, held in its state) and the accepted page (the intake's thread of the
group the requester asked in, `api_group_threads.requester_phone` false) now name the
group only when there is one; else "求助人未留电话，请联系社区工作人员了解如何联系求助人"."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from dispatcher.api import assignment_pages, offer_pages
from dispatcher.api.offer_outcomes import use_for
from dispatcher.links import LinkClaims
from schemas.requests import RequesterContact
from tests.unit.conftest import World
from tests.unit.test_cant_come_page_truth_s40 import COMMUNITY, HELPER, OFFER, RID, _deps
from tests.unit.test_remote_no_phone_assignment_s41 import IN_GROUP, _remote_assignment

VIA_STAFF = "求助人未留电话，请联系社区工作人员了解如何联系求助人，远程指导，无需前往。"
ON_WAY_AT = datetime(2025, 1, 15, 23, 31, tzinfo=UTC)


def test_the_push_for_a_request_from_no_group_names_no_group(world: World) -> None:
    title, text = _remote_assignment(world, RequesterContact(name="王阿婆"), source=None)
    assert VIA_STAFF in text and title == "接单成功，请联系社区工作人员", (title, text)
    assert "群" not in title + text and "致电" not in title + text, text


def test_the_push_for_a_request_from_a_group_still_names_it(world: World) -> None:
    title, text = _remote_assignment(world, RequesterContact(name="王阿婆"))
    assert IN_GROUP in text and title == "接单成功，请在群内联系" and VIA_STAFF not in text


class _Db:
    """The rows the accepted page reads: a remote assignment of a request whose contact
    (plain, as rows from before 12.7 hold it) has no phone, and the group threads the API
    recorded for it (`requester_phone` per thread)."""

    def __init__(self, threads: list[bool | None], *, on_way: bool = False) -> None:
        self.threads = threads
        self.on_way = on_way

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        if "FROM assignments a JOIN requests r" in sql:
            return {
                "remote": True,
                "on_way_at": ON_WAY_AT if self.on_way else None,
                "done_at": None,
                "minutes_spent": None,
                "released_why": None,
                "request_closed": False,
            }
        if "FROM request_private p" in sql:
            return {
                "contact": json.dumps({"name": "王阿婆"}),
                "place": json.dumps({"compound_name": "图强小区"}),
                "text": "帮我看看血压计怎么用",
                "sealed": None,
            }
        raise AssertionError(sql)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        assert "FROM api_group_threads" in sql, sql
        return [
            {
                "request_id": RID,
                "bot_id": "bot-1",
                "group_id": f"grp-{i}",
                "session_webhook": None,
                "session_expires": None,
                "reply_to": None,
                "requester_phone": phone,
            }
            for i, phone in enumerate(self.threads)
        ]

    async def execute(self, sql: str, *args: Any) -> str:
        assert sql.startswith("INSERT INTO contact_views"), sql
        return "INSERT 0 1"


async def _accepted_page(db: _Db) -> str:
    deps = _deps()
    deps._pool = db  # type: ignore[assignment]
    use = use_for("accept", RID, OFFER, HELPER)
    shown = await offer_pages._assigned_page(deps, use, "link", COMMUNITY, None)
    return bytes(shown.body).decode()


# No thread: staff or a plain API call. A co-report's thread (None): another group
# reported the same need, the requester did not ask there.
@pytest.mark.parametrize("threads", [[], [None]], ids=["no-thread", "co-report-only"])
async def test_the_accepted_page_of_a_request_from_no_group_names_no_group(
    threads: list[bool | None],
) -> None:
    text = await _accepted_page(_Db(threads))
    assert VIA_STAFF in text and "<title>谢谢您！请联系社区工作人员</title>" in text, text
    assert "群" not in text and "致电" not in text and "打电话" not in text, text
    assert "正在联系求助人</button>" in text, text


async def test_the_accepted_page_of_a_request_from_a_group_still_names_it() -> None:
    text = await _accepted_page(_Db([False]))
    assert IN_GROUP in text and "<title>谢谢您！请在群内联系</title>" in text, text
    assert "已在群内联系</button>" in text and VIA_STAFF not in text, text


@pytest.mark.parametrize(
    ("threads", "said"), [([], VIA_STAFF), ([False], IN_GROUP)], ids=["no-group", "group"]
)
async def test_the_pressed_page_names_a_group_only_for_one(
    threads: list[bool | None], said: str
) -> None:
    deps = _deps()
    deps._pool = _Db(threads, on_way=True)  # type: ignore[assignment]
    claims = LinkClaims(k="accept", h=HELPER, c=COMMUNITY, r=RID, o=OFFER, e=2_000_000_000)
    shown = await assignment_pages._outcome(deps, "on-my-way", claims, "cmd-1")
    text = bytes(shown.body).decode()
    assert shown.status_code == 200 and said in text, text
    assert ("群" in text) is (said == IN_GROUP), text
