"""A helper pa accepts a request from the WeCom group and staff then act on it: the steps
the session-39 tests of helpers kept after a referral share (their buttons, their group)."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlparse

import asyncpg
import httpx

from tests.support import platform_flow as flow
from tests.support.staff import DISTRICT, bearer
from tests.support.waiting import eventually

FORM = r'action="(/l/o/[^"]+/p/{step})"'

# Staff hand the request to 120 (the referral that keeps its helpers assigned).
REFER_120 = {"to": "120", "note": "已拨打120"}


async def staff_act(client: httpx.AsyncClient, rid: str, action: str, body: dict[str, str]) -> None:
    """A district staff member's action on the request (refer, resolve…), accepted."""
    r = await client.post(f"/ops/v1/requests/{rid}/{action}", json=body, headers=bearer(DISTRICT))
    assert r.status_code == 202, r.text


def form_action(page: str, step: str) -> str | None:
    found = re.search(FORM.format(step=step), page)
    return found[1] if found else None


async def pa_accepts(
    running: flow.Running, client: httpx.AsyncClient, text: str
) -> tuple[str, str, str]:
    """A request from the group, pa accepts (not on the way yet): the request and the paths
    of pa's accept and decline links."""
    cb = running.platform.message(text, f"m-{uuid.uuid4().hex[:12]}", "g-main")
    r = await running.send(client, cb)
    assert r.status_code == 200 and r.json()["is_request"], r.text
    rid = str(r.json()["request_id"])
    await running.receiver.wait_for(
        lambda: any(o["helper_id"] == "pa" for o in flow.offers_for(running.receiver, rid)),
        timeout=30,
    )
    offer = next(o for o in flow.offers_for(running.receiver, rid) if o["helper_id"] == "pa")
    link = urlparse(str(offer["accept_url"])).path
    accepted = await client.post(link)
    assert accepted.status_code == 200, accepted.text
    assert form_action(accepted.text, "on-my-way") and form_action(accepted.text, "cant-come"), (
        accepted.text
    )
    return rid, link, urlparse(str(offer["decline_url"])).path


async def closed(db: asyncpg.Connection, rid: str) -> bool:
    return bool(
        await db.fetchval("SELECT closed_at IS NOT NULL FROM requests WHERE request_id = $1", rid)
    )


async def pa_accepts_then_staff(
    running: flow.Running,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    text: str,
    action: str,
    body: dict[str, str],
) -> tuple[str, str, str]:
    """`pa_accepts`, then staff's `action` on the request, waited until the request is
    recorded closed: the request and the paths of pa's accept and decline links."""
    rid, link, decline = await pa_accepts(running, client, text)
    await staff_act(client, rid, action, body)
    assert await eventually(lambda: closed(db, rid), what=f"the {action} recorded")
    return rid, link, decline


async def cant_come_and_heard(
    running: flow.Running, client: httpx.AsyncClient, link: str, said: str
) -> list[str]:
    """pa presses 去不了了 on their accept page (`link`): the group texts holding `said`
    that the asking group ("g-main") heard after it, once one came."""

    def holding() -> list[str]:
        return [t for t in running.platform.group_texts("g-main") if said in t]

    before = len(holding())
    page = await client.get(link)
    cant = form_action(page.text, "cant-come")
    assert cant, page.text
    gone = await client.post(cant)
    assert gone.status_code == 200 and "已记录：这次去不了" in gone.text, gone.text
    # Whatever comes next (a pause, a referral, nobody left), the page promises no neighbour.
    assert "其他邻居" not in gone.text, gone.text
    await running.receiver.wait_for(lambda: len(holding()) > before, timeout=30)
    return holding()[before:]
