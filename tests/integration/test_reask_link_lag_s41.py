"""A neighbour stood down as covered, whose late 能来 was refused (已有邻居接手), is asked
again when the helper who took the slot cannot come (去不了了). They press 能来 in the new
push at once, before the record agent has written the re-ask to PostgreSQL: the press is
taken and they are assigned. Real API, worker, Kafka, PostgreSQL and pushes; the record
agent's lag is made by holding a SHARE lock on `event_log` (its batch cannot insert; the
API still reads), released once the press was answered.

Before (98d4579): the API told the new ask from the old by the event log (`asked_again`,
`sends`); with the re-ask not written yet the press got the first ask's command id, found
the refused answer and showed 已有邻居接手, sending nothing: the helper's accept was lost
and the re-asked offer went unanswered. Now the push's links carry the ask
(`WaveOffer.again` → `LinkClaims.again`), so the press has a use and a command id of that
ask's own without reading the log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.kept_helpers import form_action
from tests.support.link_answers import CONFIRMING, press, settled
from tests.support.neighbours_s39 import STAFF
from tests.support.private_phones import SECRET, pushes
from tests.support.team_offers import offer_of
from tests.support.waiting import eventually

COMMUNITY = "s41-reask-lag"
COVERED = "已有邻居接手"
ASSIGNED = "谢谢您！请前往帮忙"
PHONE = builders.request(COMMUNITY)["contact"]["phone"]


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    """The helpers' phones (the webhook every helper's `webhook:default` channel reaches),
    then the worker and API, and la, lb on the roster."""
    async with PushReceiver() as receiver:
        endpoint = {"name": "default", "kind": "webhook", "url": receiver.url("/phones")}
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([{**endpoint, "secret": SECRET}])
        stack.start_worker()
        await stack.start_api()
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            for hid in ("la", "lb"):
                body = builders.helper(hid, COMMUNITY, ["driving"])
                r = await client.put(f"/v1/admin/helpers/{hid}", json=body, headers=STAFF)
                assert r.status_code == 202, r.text
        yield receiver


@pytest.fixture
async def api(stack: LocalStack, phones: PushReceiver) -> LocalStack:
    return stack


def _path(url: str) -> str:
    return httpx.URL(url).raw_path.decode()


async def _offer_links(receiver: PushReceiver, helper: str, count: int) -> list[dict[str, Any]]:
    """The first `count` offer pushes `helper`'s phone received, in order."""

    async def arrived() -> list[dict[str, Any]] | None:
        found = pushes(receiver, "offer", helper)
        return found[:count] if len(found) >= count else None

    return await eventually(arrived, timeout=60, what=f"{count} offer push(es) to {helper}")


async def _status(db: asyncpg.Connection, offer_id: str, status: str) -> bool | None:
    found = await db.fetchval("SELECT status FROM offers WHERE offer_id = $1", offer_id)
    return True if found == status else None


async def test_a_press_right_after_the_re_ask_is_taken_before_the_record_agent_wrote_it(
    api: LocalStack, phones: PushReceiver, db: asyncpg.Connection
) -> None:
    async with (
        httpx.AsyncClient(base_url=api.api_url, timeout=30) as pa,
        httpx.AsyncClient(base_url=api.api_url, timeout=30) as pb,
    ):
        r = await pa.post(
            "/v1/requests", json=builders.request(COMMUNITY, source=None), headers=STAFF
        )
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]
        [a_push] = await _offer_links(phones, "la", 1)
        [b_first] = await _offer_links(phones, "lb", 1)
        offer_b = await offer_of(db, rid, "lb")
        a_path, b_first_path = _path(a_push["accept_url"]), _path(b_first["accept_url"])
        assert (await pb.get(b_first_path)).status_code == 200  # binds lb's browser

        # la takes the slot; lb's offer is stood down; lb's late press is refused (covered).
        assert (await pa.get(a_path)).status_code == 200
        took = await press(pa, a_path, what="la's accept")
        assert took.status_code == 200 and ASSIGNED in took.text, took.text
        await eventually(partial(_status, db, offer_b, "stood_down"), what="lb stood down")
        late = await press(pb, b_first_path, what="lb's late press")
        assert late.status_code == 200 and COVERED in late.text, late.text

        cant = form_action((await pa.get(a_path)).text, "cant-come")
        assert cant, "la's page has no 去不了了"
        seq = await db.fetchval("SELECT max(seq) FROM event_log")
        lag = await asyncpg.connect(api.pg_dsn)
        try:
            # The record agent falls behind: nothing after this point reaches event_log.
            held = lag.transaction()
            await held.start()
            await lag.execute("LOCK TABLE event_log IN SHARE MODE")
            gone = await pa.post(cant)
            assert gone.status_code in (200, 202), gone.text
            # The re-ask reaches lb's phone (the core asked again, the notify agent pushed).
            [_, b_again] = await _offer_links(phones, "lb", 2)
            again_path = _path(b_again["accept_url"])
            assert b_again["offer_id"] == offer_b
            unrecorded = await db.fetchval("SELECT count(*) FROM event_log WHERE seq > $1", seq)
            assert unrecorded == 0  # the withdrawal and the re-ask are not written yet

            answer = await pb.post(again_path)  # at once, the record agent still behind
            assert COVERED not in answer.text, answer.text  # old: 已有邻居接手, nothing sent
            assert answer.status_code == 202 and CONFIRMING in answer.text, answer.text
        finally:
            await held.rollback()
            await lag.close()

        # Recorded now: lb holds the slot, and the link's page says so with the contact.
        shown = await settled(pb, again_path, answer, what="lb's accept on the re-ask")
        assert shown.status_code == 200 and ASSIGNED in shown.text, shown.text
        assert PHONE in shown.text, shown.text
        await eventually(partial(_status, db, offer_b, "accepted"), what="lb assigned")
        holders = await db.fetch(
            "SELECT helper_id FROM assignments WHERE request_id = $1 AND released_at IS NULL", rid
        )
        assert [h["helper_id"] for h in holders] == ["lb"], holders
        # The first push's link, used on the first ask, now answers as this ask did.
        first = await pb.get(b_first_path)
        assert first.status_code == 200 and ASSIGNED in first.text, first.text
