"""Finding 1, the last part: a private offer link of a helper with no platform login acts
only on the device that opened it first. The attacks: the link forwarded to another phone
(opened, then accept and decline pressed), and the bound phone's cookie replayed on another
offer's link. Each is refused (409 opening, 403 pressing) with no request details and no
command; the helper's own phone still accepts and sees the contact. Real worker, real API,
the helpers' phones as a real local push receiver (the links come from the pushes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher import offer_binding as ob
from dispatcher.links import helper_link
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.private_phones import phones_and_robot, pushes
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
METRICS = {"Authorization": "Bearer dev-only-metrics-token"}
PHONE, ADDRESS = "13912345678", "3号楼2单元501"
REFUSED = "另一部手机"
HELPER = "bind-helper-a"  # an id no uuid or log line contains by chance


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with phones_and_robot(stack) as receiver:
        yield receiver


# What a browser sends when a person opens a page (Fetch Metadata); a link preview sends none.
NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


def client(stack: LocalStack, headers: dict[str, str] = NAVIGATION) -> httpx.AsyncClient:
    """A phone's browser: its own cookie jar."""
    return httpx.AsyncClient(base_url=stack.api_url, timeout=15, headers=headers)


async def offer_links(
    stack: LocalStack, phones: PushReceiver, community: str, helpers: list[str], needed: int
) -> tuple[str, dict[str, dict[str, str]]]:
    """Register `helpers` (private channel only), submit a request; each helper's offer
    (offer id and the accept/decline paths from the push their phone received)."""
    async with client(stack) as staff:
        for hid in helpers:
            h = builders.helper(hid, community, ["driving"], channels=["webhook:phones"])
            assert (await staff.put(f"/v1/admin/helpers/{hid}", json=h, headers=STAFF)).is_success
        body = builders.request(community, source=None, helpers_needed=needed)
        r = await staff.post("/v1/requests", json=body, headers=STAFF)
        assert r.status_code == 202, r.text
        rid = str(r.json()["request_id"])

    def offered() -> bool:
        return all(any(p["request_id"] == rid for p in pushes(phones, "offer", h)) for h in helpers)

    await phones.wait_for(offered, timeout=60)
    found = {}
    for hid in helpers:
        push = next(p for p in pushes(phones, "offer", hid) if p["request_id"] == rid)
        found[hid] = {
            "offer_id": str(push["offer_id"]),
            "accept": httpx.URL(str(push["accept_url"])).raw_path.decode(),
            "decline": httpx.URL(str(push["decline_url"])).raw_path.decode(),
        }
    # The tests read the offers' recorded state; the push can arrive before the record agent
    # has recorded them (its window: DISPATCH_RECORD_BATCH_WAIT_SECONDS), so wait for that.
    db = await asyncpg.connect(stack.pg_dsn)
    try:
        ids = [f["offer_id"] for f in found.values()]
        await eventually(
            lambda: db.fetchval(
                "SELECT count(*) = $2 FROM offers WHERE offer_id = ANY($1)", ids, len(ids)
            ),
            timeout=30,
            what="the offers recorded",
        )
    finally:
        await db.close()
    return rid, found


def refused(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["x-refusal-reason"] == "other_device"
    assert REFUSED in answer.text
    for private in (PHONE, ADDRESS, "王女士", "3号楼", "我可以去帮忙", "<form"):
        assert private not in answer.text
    assert "set-cookie" not in answer.headers


async def refusals(stack: LocalStack) -> dict[str, float]:
    async with client(stack) as c:
        text = (await c.get("/metrics", headers=METRICS)).text
    counts = {"open": 0.0, "act": 0.0}
    for line in text.splitlines():
        if line.startswith("dispatch_offer_link_other_device_total{"):
            counts[line.split('step="')[1].split('"')[0]] = float(line.rsplit(" ", 1)[1])
    return counts


async def test_a_forwarded_private_link_does_not_act_on_another_device(
    stack: LocalStack, phones: PushReceiver
) -> None:
    rid, links = await offer_links(stack, phones, "sec-bind", [HELPER], needed=1)
    offer_id, accept, decline = (links[HELPER][k] for k in ("offer_id", "accept", "decline"))
    before = await refusals(stack)
    db = await asyncpg.connect(stack.pg_dsn)
    try:
        async with client(stack) as device1, client(stack) as device2:
            # Device 1, the helper's phone, opens the link first: it is bound to it.
            first = await device1.get(accept)
            assert first.status_code == 200 and "我可以去帮忙" in first.text
            cookie = first.headers["set-cookie"]
            assert cookie.startswith(ob.cookie_name(offer_id) + "=")
            for flag in ("HttpOnly", "SameSite=lax", "Path=/l/o/"):
                assert flag.lower() in cookie.lower(), cookie
            assert "secure" not in cookie.lower()  # plain HTTP here; Secure behind TLS
            value = device1.cookies[ob.cookie_name(offer_id)]
            row = await db.fetchrow(
                "SELECT * FROM offer_device_bindings WHERE offer_id = $1", offer_id
            )
            assert row is not None and row["helper_id"] == HELPER
            assert value not in " ".join(str(v) for v in row.values())  # a keyed hash only

            # The link forwarded: device 2 (a fresh cookie jar) opens it, accepts, declines.
            refused(await device2.get(accept), 409)
            refused(await device2.post(accept), 403)
            refused(await device2.post(decline), 403)
            refused(await device2.post(accept, data={"members": "1"}), 403)
            # A cookie of the right name with a guessed value is no better.
            device2.cookies.set(ob.cookie_name(offer_id), ob.new_cookie(), path="/l/o/")
            refused(await device2.post(accept), 403)

            # Nothing reached the core: the offer is still open, no answer was recorded.
            assert (
                await db.fetchval(
                    "SELECT count(*) FROM api_link_uses WHERE offer_id = $1", offer_id
                )
                == 0
            )
            assert (
                await db.fetchval("SELECT status FROM offers WHERE offer_id = $1", offer_id)
                == "sent"
            )
            assert (
                await db.fetchval(
                    "SELECT refused FROM offer_device_bindings WHERE offer_id = $1", offer_id
                )
                == 5
            )
            after = await refusals(stack)
            assert after["open"] - before["open"] == 1 and after["act"] - before["act"] == 4
            refusal_lines = [
                line
                for line in (stack.root / "api.log").read_text(errors="replace").splitlines()
                if "another device" in line
            ]
            assert len(refusal_lines) >= 5
            for line in refusal_lines:  # logged without personal data or the link
                for private in (PHONE, ADDRESS, HELPER, rid, accept.rsplit("/", 1)[1], value):
                    assert private not in line, line

            # The helper on device 1 still accepts, and sees the contact there (also later).
            assert (await device1.post(accept)).status_code in (200, 202)

            async def shown() -> bool:
                return PHONE in (await device1.get(accept)).text

            await eventually(shown, what="the contact on the bound phone")
            # After the acceptance, device 2 still sees nothing.
            refused(await device2.get(accept), 409)
            refused(await device2.post(accept), 403)
    finally:
        await db.close()


async def test_a_bound_cookie_replayed_on_another_offer_is_refused(
    stack: LocalStack, phones: PushReceiver
) -> None:
    _, links = await offer_links(stack, phones, "sec-bind2", ["b1", "b2"], needed=2)
    x, y = links["b1"], links["b2"]
    async with client(stack) as device1, client(stack) as device3, client(stack) as thief:
        assert (await device1.get(x["accept"])).status_code == 200  # b1's phone: offer X
        assert (await device3.get(y["accept"])).status_code == 200  # b2's phone: offer Y
        stolen = device1.cookies[ob.cookie_name(x["offer_id"])]
        # Device 1 itself, with its X cookie, pressing Y's link.
        refused(await device1.post(y["accept"]), 403)
        # The stolen value under Y's cookie name, and under X's (a copied cookie jar).
        thief.cookies.set(ob.cookie_name(y["offer_id"]), stolen, path="/l/o/")
        refused(await thief.get(y["accept"]), 409)
        refused(await thief.post(y["accept"]), 403)
        thief.cookies.clear()
        thief.cookies.set(ob.cookie_name(x["offer_id"]), stolen, path="/l/o/")
        refused(await thief.post(y["decline"]), 403)

        # Hammering the forwarded link: past the burst, 429 and nothing more is written.
        statuses = []
        for _ in range(40):  # 10 at once, then 20 a minute: a 429 long before 40
            statuses.append((await thief.post(y["accept"])).status_code)
            if statuses[-1] == 429:
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {403}, statuses
        db = await asyncpg.connect(stack.pg_dsn)
        try:
            counted = await db.fetchval(
                "SELECT refused FROM offer_device_bindings WHERE offer_id = $1", y["offer_id"]
            )
        finally:
            await db.close()
        assert counted == 4 + len(statuses) - 1  # the four above, then each 403; no 429

        # b2's own phone bound through their private personal link is b2, wherever the
        # offer link was opened first (a chat preview, another phone of theirs).
        async with client(stack) as b2_personal:
            settings = stack.settings(push_endpoints=[])  # the env holds them as JSON text
            personal = helper_link(settings, helper_id="b2", community_id="sec-bind2")
            assert (await b2_personal.get(httpx.URL(personal).raw_path.decode())).status_code == 200
            assert (await b2_personal.get(y["accept"])).status_code == 200

        # The bound phone answers its own offer.
        answer = await device3.post(y["accept"])
        assert answer.status_code in (200, 202), answer.text


async def test_phones_opening_a_link_at_once_bind_exactly_one(
    stack: LocalStack, phones: PushReceiver
) -> None:
    _, links = await offer_links(stack, phones, "sec-bind3", ["c1"], needed=1)
    accept = links["c1"]["accept"]
    devices = [client(stack) for _ in range(5)]
    try:
        opened = await asyncio.gather(*(d.get(accept) for d in devices))
        statuses = sorted(r.status_code for r in opened)
        assert statuses == [200, 409, 409, 409, 409], statuses
        winner = next(d for d, r in zip(devices, opened, strict=True) if r.status_code == 200)
        for device, answer in zip(devices, opened, strict=True):
            if device is not winner:
                refused(answer, 409)
                refused(await device.post(accept), 403)
        assert (await winner.post(accept)).status_code in (200, 202)
    finally:
        for device in devices:
            await device.aclose()


async def test_a_link_preview_binds_nothing(stack: LocalStack, phones: PushReceiver) -> None:
    """A messaging app fetches the private link to show a preview card (no Fetch Metadata,
    its own cookie jar): it sees the page, binds nothing, and the helper's browser, opening
    the link after it, is bound and accepts."""
    helper = "bind-helper-preview"
    rid, links = await offer_links(stack, phones, "sec-bind-preview", [helper], needed=1)
    offer_id, accept = links[helper]["offer_id"], links[helper]["accept"]
    async with client(stack, headers={}) as preview, client(stack) as browser:
        card = await preview.get(accept)
        assert card.status_code == 200 and "set-cookie" not in card.headers, card.text
        opened = await browser.get(accept)
        assert opened.status_code == 200, opened.text
        assert opened.headers["set-cookie"].startswith(ob.cookie_name(offer_id) + "=")
        assert (await browser.post(accept)).status_code in (200, 202)

        async def shown() -> bool:
            return PHONE in (await browser.get(accept)).text

        await eventually(shown, what="the contact in the helper's browser")
        refused(await preview.post(accept), 403)  # the preview's jar is not the bound one
        assert rid  # (the request the preview saw)
