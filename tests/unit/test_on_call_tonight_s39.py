"""Session 39 audit: "今晚值守" (on call tonight: wake me in my quiet hours) lasted 12 hours
from the press, so pressed at 09:00 it ended at 21:00 and an urgent request at 23:00 did not
reach the helper. It now lasts until local noon after the night it means (the night in
progress if pressed before 06:00, else the coming one), on the community's clock, and the
page says until when. In-process API, a fixed clock (no wall-clock reads)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.helper_pages import on_call_until
from dispatcher.core.community import DEFAULT_ZONE
from dispatcher.links import helper_link
from dispatcher.settings import Settings
from schemas.commands import Command, SetHelperStatus
from tests.unit.test_api_clock import Clock, RecordingSink
from tests.unit.test_api_fuzz_refusals import STAFF, AuditPool

SHANGHAI = DEFAULT_ZONE  # no zone configured for the community: the core's default


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2031, 5, day, hour, minute, tzinfo=SHANGHAI)


async def test_pressed_in_the_morning_it_covers_the_night() -> None:
    settings = Settings(staff_token=STAFF)
    clock, sink = Clock(local(4, 9).astimezone(UTC)), RecordingSink()
    deps = ApiDeps(settings=settings, sink=sink, clock=clock, _pool=AuditPool())
    url = httpx.URL(helper_link(settings, helper_id="h1", community_id="c1", now=clock.now))
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        page = await c.get(url.raw_path.decode())
        r = await c.post(url.raw_path.decode() + "/on_call")
    assert r.status_code == 200, r.text
    assert "明天12:00之前，免打扰时段也会通知您" in r.text and "12小时" not in r.text
    # Session 40: it lifts the weekly hours too (test_on_call_outside_hours_s40.py).
    assert "可服务时间以外也会" in r.text
    assert "今晚值守：可服务时间以外、免打扰时段也可叫醒我" in page.text
    body = Command.model_validate_json(sink.sent[-1]).body
    assert isinstance(body, SetHelperStatus)
    until = body.dnd_override_until
    assert until == local(5, 12).astimezone(UTC)
    # Quiet hours 22:00-07:00: an urgent request at 23:00, or at 06:30, still wakes them.
    assert local(4, 23) < until and local(5, 6, 30) < until


@pytest.mark.parametrize(
    ("pressed", "ends"),
    [
        (local(4, 9), local(5, 12)),  # the morning: tonight, until tomorrow noon
        (local(4, 23), local(5, 12)),  # the evening: the same
        (local(5, 2), local(5, 12)),  # in the night: this night, until noon
        (local(5, 5, 59), local(5, 12)),
        (local(5, 6), local(6, 12)),  # from 06:00: the coming night
        (local(4, 11, 59), local(5, 12)),
    ],
)
def test_tonight_ends_at_the_noon_after_it(pressed: datetime, ends: datetime) -> None:
    until = on_call_until(pressed.astimezone(UTC), SHANGHAI)
    assert until == ends
    assert until - pressed >= timedelta(hours=6)
