"""Session 39 audit: the welcome's personal link expires 365 days after it was sent
(links.HELPER_LINK_LIFETIME), though helper_pages said it "never expires". A year on, the
helper who opened it (to go away, or to bind a new phone) was told an offer's words,
"这条邀请已过有效期，无需再操作" (no action needed), while nothing was set. Now the
personal link says its own: expired, ask the community staff for a new one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.links import helper_link
from dispatcher.settings import Settings
from tests.support.in_process import api_client
from tests.unit.test_api_clock import Clock, RecordingSink

T0 = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)
EXPIRED = "个人链接已过期，请联系社区工作人员重新发送"


async def test_a_year_old_personal_link_says_it_expired() -> None:
    settings = Settings(staff_token="s3cret")  # type: ignore[arg-type]
    clock, sink = Clock(T0), RecordingSink()
    deps = ApiDeps(settings=settings, sink=sink, clock=clock)
    path = httpx.URL(helper_link(settings, helper_id="h1", community_id="c1", now=T0)).raw_path
    clock.now = T0 + timedelta(days=366)
    async with api_client(create_app(settings, deps)) as c:
        answers = [await c.get(path.decode())]
        for press in ("away", "back", "quiet-hours", "quiet-hours/clear", "offer"):
            answers.append(await c.post(f"{path.decode()}/{press}"))
    for answer in answers:
        assert answer.status_code == 410, answer.text
        assert EXPIRED in answer.text and "无需再操作" not in answer.text
        assert "dispatch_helper" not in answer.headers.get("set-cookie", "")
    assert sink.sent == []  # nothing set
