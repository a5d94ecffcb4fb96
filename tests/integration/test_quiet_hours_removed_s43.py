"""Quiet hours removed through the staff API while they hold a chore (audit s43 F3/F4), on
the real parts: the API writes the `config` topic, the running worker follows it, sees the
community's hours changed and sends the core a `quiet_hours_changed` command for the held
request through the commands topic; the core releases it and its first offers go out, now,
not at the old end (two hours away). Before, the worker only refreshed its policies and the
chore stayed held to the old end, while a chore submitted after the change went out at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack

# The module's push receiver (the helpers' phones) and waits, as the live settings test has them.
from tests.integration.test_community_settings_live import (  # noqa: F401
    applied,
    receiver,
    status_when,
)
from tests.support import builders

STAFF = {"Authorization": "Bearer dev-staff-token"}
QUIET = "comm-quiet-removed"
ZONE = ZoneInfo("Asia/Shanghai")  # the community's (the default time zone)


@pytest.fixture(scope="module")
async def api(
    stack: LocalStack,
    receiver: PushReceiver,  # noqa: F811
) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as client:
        await set_community(client, quiet_hours=None)
        endpoint = {"kind": "webhook", "url": receiver.url("/quiet"), "community_id": QUIET}
        r = await client.put(
            "/v1/admin/config/endpoints/quiet-phones", json=endpoint, headers=STAFF
        )
        assert r.status_code == 200, r.text
        for i in range(3):
            hid = f"qr-{i}"
            body = builders.helper(
                hid,
                QUIET,
                ["driving"],
                place=builders.place(QUIET),
                channels=["webhook:quiet-phones"],
            )
            r = await client.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
            assert r.status_code == 202, r.text
    yield stack


async def set_community(client: httpx.AsyncClient, quiet_hours: dict[str, str] | None) -> None:
    """The staff API's community document (the console's edit)."""
    doc = {"display_name": "安静社区", "quiet_hours": quiet_hours}
    r = await client.put(f"/v1/admin/config/communities/{QUIET}", json=doc, headers=STAFF)
    assert r.status_code == 200, r.text


async def test_a_held_chore_goes_out_once_staff_remove_the_quiet_hours(
    api: LocalStack,
    client: httpx.AsyncClient,
    receiver: PushReceiver,  # noqa: F811
) -> None:
    now = datetime.now(ZONE).replace(second=0, microsecond=0)
    start, end = (now - timedelta(minutes=10)).time(), (now + timedelta(hours=2)).time()
    window = f"{start.isoformat()}-{end.isoformat()}"
    await set_community(client, {"start": start.isoformat(), "end": end.isoformat()})
    await applied(api, QUIET, quiet_hours=window)

    body = builders.request(
        QUIET, source=None, urgency="normal", category="errand", skills=[], helpers_needed=1
    )
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    held = await status_when(client, rid, lambda s: s["status"] == "held")
    assert held["offers_sent"] == 0
    assert datetime.fromisoformat(held["held_until"]) > datetime.now(ZONE) + timedelta(hours=1)

    await set_community(client, None)  # staff remove the quiet hours
    await applied(api, QUIET, quiet_hours=None)
    # Released within seconds, not at the old end two hours away: its first offers out,
    # and pushed to the helpers.
    shown = await status_when(client, rid, lambda s: s["offers_sent"] > 0)
    assert shown["status"] == "open" and shown["held_until"] is None

    def pushed() -> bool:
        return any(
            x.json().get("data", {}).get("request_id") == rid for x in receiver.for_path("/quiet")
        )

    await receiver.wait_for(pushed, timeout=60)
