"""A group member asks, and one helper (guiding remotely, say) accepts the offer pushed to
their phone: the request's id, the first reply, and the accepted page (its HTML)."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import httpx

from tests.support import platform_flow as flow


async def ask_and_accept(
    run: flow.Running,
    client: httpx.AsyncClient,
    text: str,
    group: str,
    sender: str,
    helper: str,
) -> tuple[str, str, str]:
    cb = run.platform.message(text, f"m-{uuid.uuid4().hex[:12]}", group, sender=sender)
    r = await run.send(client, cb)
    assert r.status_code == 200 and r.json()["is_request"], r.text
    rid = str(r.json()["request_id"])
    await run.receiver.wait_for(lambda: bool(flow.pushed_to(run, rid, helper, "offer")), timeout=30)
    offer = flow.pushed_to(run, rid, helper, "offer")[0]
    accepted = await client.post(urlparse(str(offer["accept_url"])).path)
    assert accepted.status_code == 200, accepted.text
    return rid, str(r.json()["reply_text"]), accepted.text
