"""A neighbour who pressed 能来 just after someone else took the slot (refused: covered) is
asked again when that helper withdraws (去不了了, 2713983), under the same offer id. Their
press of the same link, or their answer on `/l/me`, is an answer to the new ask: it accepts
(or declines), the page shows the contact. Real API, worker, Kafka and PostgreSQL.

Before: a link's one use is keyed by action and offer (`accept:<offer_id>`) and its command
id by that key, so the first ask's refused press stood for every later one: the link's page,
its press and `/l/me` all said "已有邻居接手" (the stored use, and the read model's
`covered` for that command id) while the new push said "please come"; the offer expired
unanswered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial

import asyncpg
import httpx
import pytest

from dispatcher.links import ANSWER_PATH, helper_link
from dispatcher.testing.stack import LocalStack
from tests.security.test_offer_device_binding import NAVIGATION
from tests.support import builders
from tests.support.kept_helpers import form_action
from tests.support.link_answers import press
from tests.support.links import offer_path
from tests.support.neighbours_s39 import STAFF, started_with
from tests.support.team_offers import offer_of
from tests.support.waiting import eventually

LINK, ANSWER_PAGE, DECLINE = "s40-reask-link", "s40-reask-me", "s40-reask-decline"
# The first takes the slot; the others press late, then are asked again.
HELPERS = {LINK: ("la", "lb", "lc"), ANSWER_PAGE: ("ma", "mb"), DECLINE: ("da", "db")}
COVERED = "已有邻居接手"
ASSIGNED = "谢谢您！请前往帮忙"
PHONE = builders.request(LINK)["contact"]["phone"]


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    started = await started_with(stack, LINK, HELPERS[LINK])
    async with httpx.AsyncClient(base_url=started.api_url, timeout=30) as client:
        for community in (ANSWER_PAGE, DECLINE):
            for hid in HELPERS[community]:
                body = builders.helper(hid, community, ["driving"])
                r = await client.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
                assert r.status_code == 202, r.text
    return started


@pytest.fixture
async def phones(api: LocalStack) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Each helper's browser, in `HELPERS` order."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(httpx.AsyncClient(base_url=api.api_url, timeout=30))
            for _ in range(3)
        ]


@dataclass
class AskedAgain:
    rid: str
    offers: dict[str, str]  # each late helper's offer: the same id on both asks
    paths: dict[str, str]  # their links for the action they pressed on the first ask


async def _status(db: asyncpg.Connection, offer_id: str, status: str) -> bool | None:
    found = await db.fetchval("SELECT status FROM offers WHERE offer_id = $1", offer_id)
    return True if found == status else None


async def _covered_then_asked_again(
    api: LocalStack,
    db: asyncpg.Connection,
    community: str,
    phones: list[httpx.AsyncClient],
    action: str,
) -> AskedAgain:
    """A critical request asks every helper of `community`; the late ones open their
    links, the first accepts, each late one presses `action` (refused: their offer was
    stood down), the first cannot come after all, the late ones are asked again."""
    a, *late = HELPERS[community]
    pa, phone = phones[0], dict(zip(late, phones[1:], strict=False))
    r = await pa.post("/v1/requests", json=builders.request(community, source=None), headers=STAFF)
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    offers = {h: await offer_of(db, rid, h) for h in (a, *late)}
    paths = {h: offer_path(api, community, rid, offers[h], h, action) for h in late}
    for h in late:  # binds their browsers to their links
        assert (await phone[h].get(paths[h])).status_code == 200

    a_path = offer_path(api, community, rid, offers[a], a)
    assert (await pa.get(a_path)).status_code == 200
    done = await press(pa, a_path, what="a's accept")
    assert done.status_code == 200 and ASSIGNED in done.text, done.text
    for h in late:
        await eventually(partial(_status, db, offers[h], "stood_down"), what=f"{h} stood down")
        pressed = await press(phone[h], paths[h], what=f"{h}'s late press")
        assert pressed.status_code == 200 and ASSIGNED not in pressed.text, pressed.text
        assert "已记录" not in pressed.text, pressed.text  # refused, not taken as an answer

    cant = form_action((await pa.get(a_path)).text, "cant-come")
    assert cant, "a's page has no 去不了了"
    gone = await pa.post(cant)
    assert gone.status_code == 200 and "已记录：这次去不了" in gone.text, gone.text
    for h in late:
        await eventually(partial(_status, db, offers[h], "sent"), what=f"{h} asked again")
    return AskedAgain(rid, {h: offers[h] for h in late}, paths)


async def test_the_same_link_accepts_when_asked_again(
    api: LocalStack, db: asyncpg.Connection, phones: list[httpx.AsyncClient]
) -> None:
    pb, pc = phones[1:]
    again = await _covered_then_asked_again(api, db, LINK, phones, "accept")
    shown = await pb.get(again.paths["lb"])  # the link invites again
    assert shown.status_code == 200 and "我可以去帮忙" in shown.text, shown.text
    assert COVERED not in shown.text, shown.text

    accepted = await press(pb, again.paths["lb"], what="lb's accept on the new ask")
    assert accepted.status_code == 200 and ASSIGNED in accepted.text, accepted.text
    assert PHONE in accepted.text, accepted.text
    await eventually(lambda: _status(db, again.offers["lb"], "accepted"), what="lb assigned")

    # Still one use of the link per ask: a second press shows the same, sends nothing.
    pressed = await press(pb, again.paths["lb"], what="lb's second press")
    assert pressed.status_code == 200 and ASSIGNED in pressed.text, pressed.text
    # One use per ask (session 41, links.ask_key): the first ask's refused press stays its own.
    offer = again.offers["lb"]
    uses = await db.fetch(
        "SELECT use_key, command_id FROM api_link_uses WHERE offer_id = $1 AND action = 'accept'"
        " ORDER BY used_at",
        offer,
    )
    assert [u["use_key"] for u in uses] == [f"accept:{offer}", f"accept:{offer}@2"], uses
    assigned = await db.fetchval(
        "SELECT count(*) FROM event_log WHERE caused_by = $1 AND type = 'helper_assigned'",
        uses[1]["command_id"],
    )
    assert assigned == 1

    # lc, asked again too, is stood down again (lb took the slot): their link, used on the
    # first ask, says so, and a press acts on nothing.
    await eventually(lambda: _status(db, again.offers["lc"], "stood_down"), what="lc stood down")
    shown = await pc.get(again.paths["lc"])
    assert shown.status_code == 200 and COVERED in shown.text, shown.text
    late = await press(pc, again.paths["lc"], what="lc's press after lb took it")
    assert late.status_code == 200 and COVERED in late.text, late.text
    assert await _status(db, again.offers["lc"], "stood_down")
    assert (
        await db.fetchval("SELECT helpers_assigned FROM requests WHERE request_id = $1", again.rid)
        == 1
    )


async def test_the_answer_page_accepts_when_asked_again(
    api: LocalStack, db: asyncpg.Connection, phones: list[httpx.AsyncClient]
) -> None:
    pb = phones[1]
    again = await _covered_then_asked_again(api, db, ANSWER_PAGE, phones, "accept")
    personal = helper_link(
        api.settings(push_endpoints=[]), helper_id="mb", community_id=ANSWER_PAGE
    )
    bound = await pb.get(httpx.URL(personal).raw_path.decode(), headers=NAVIGATION)
    assert bound.status_code == 200, bound.text
    listed = await pb.get(ANSWER_PATH)
    assert listed.status_code == 200 and again.offers["mb"] in listed.text, listed.text

    async def answered() -> list[httpx.Response] | None:
        # Pressed again while "confirming" (202): a repeat shows the recorded outcome.
        r = await pb.post(f"{ANSWER_PATH}/offers/{again.offers['mb']}/accept")
        return None if r.status_code == 202 else [r]

    [accepted] = await eventually(answered, timeout=60, what="b's accept on /l/me")
    assert accepted.status_code == 200 and ASSIGNED in accepted.text, accepted.text
    assert PHONE in accepted.text, accepted.text
    await eventually(lambda: _status(db, again.offers["mb"], "accepted"), what="mb assigned")


async def test_a_decline_on_the_new_ask_is_recorded(
    api: LocalStack, db: asyncpg.Connection, phones: list[httpx.AsyncClient]
) -> None:
    """The late accept's refusal does not answer the new ask for the decline link either."""
    pb = phones[1]
    again = await _covered_then_asked_again(api, db, DECLINE, phones, "accept")
    rid, offer = again.rid, again.offers["db"]
    path = offer_path(api, DECLINE, rid, offer, "db", "decline")
    shown = await pb.get(path)
    assert shown.status_code == 200 and "这次去不了" in shown.text, shown.text
    declined = await press(pb, path, what="db's decline on the new ask")
    assert declined.status_code == 200 and "已记录" in declined.text, declined.text
    await eventually(lambda: _status(db, offer, "declined"), what="db declined")
