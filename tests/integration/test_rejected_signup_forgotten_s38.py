"""A rejected sign-up forgets the person (review 38), through the real API and PostgreSQL.

Staff rejecting a self-registration cleared only its profile (with the phone) and the
phone's digest: the name, building and private channel stayed for good (no purge and no
retirement ever reaches a person who was never on the roster), listed to staff under
`?status=rejected`. Names in `helper_registrations` are kept only while on the roster. Now
the rejection clears them too; staff's list of rejected sign-ups still answers, with empty
names. An approved sign-up keeps its name, building and channel (the person is on the
roster; a retirement erases the name), and a rejection touches no other sign-up, not even
another one for the same phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support import signups
from tests.support.private_phones import phones_and_robot
from tests.support.signups import CHANNEL, STAFF, form

C = "s38-reject"
REGS = signups.registrations(C)
COLUMNS = (
    "SELECT status, display_name, building_name, channel, profile, phone_key, skills,"
    " helper_id, decided_by, decided_at IS NOT NULL AS decided"
    " FROM helper_registrations WHERE registration_id = $1"
)


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    async with phones_and_robot(stack):  # worker and API, "webhook:phones" a private channel
        yield stack


async def sign_up(api: LocalStack, client: httpx.AsyncClient, data: dict[str, Any]) -> None:
    await signups.sign_up(api, client, C, data)


async def listed(client: httpx.AsyncClient, status: str) -> list[dict[str, Any]]:
    return await signups.listed(client, C, status)


async def decide(client: httpx.AsyncClient, rid: str, action: str) -> None:
    r = await signups.decide(client, C, rid, action)
    assert r.status_code == 200, r.text


async def test_a_rejection_forgets_name_building_and_channel_and_nothing_else(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # Two sign-ups for one phone (one may be a neighbour typing it) and one for another.
    await sign_up(api, client, form("王秀英", "13800009901", "9号楼"))
    await sign_up(api, client, form("王阿姨", "13800009901", "9号楼B"))
    await sign_up(api, client, form("李建国", "13800009902", "4号楼"))
    by_name = {s["display_name"]: s for s in await listed(client, "pending")}
    assert set(by_name) == {"王秀英", "王阿姨", "李建国"}
    rejected = by_name["王秀英"]["registration_id"]
    await decide(client, rejected, "reject")

    row = dict(await db.fetchrow(COLUMNS, rejected))
    assert row == {
        "status": "rejected",
        "display_name": "",  # was 王秀英: never on the roster, so not kept
        "building_name": "",  # was 9号楼
        "channel": None,  # was webhook:phones
        "profile": None,
        "phone_key": None,
        "skills": ["errands"],  # what was offered names nobody: kept
        # was keyed from the phone: the same for the same number signing up again (0416)
        "helper_id": f"forgotten-{rejected}",
        "decided_by": "staff-token",
        "decided": True,
    }
    # Staff's list of rejected sign-ups still answers: the row, with nothing of the person.
    [shown] = await listed(client, "rejected")
    assert shown["registration_id"] == rejected and shown["status"] == "rejected"
    assert (shown["display_name"], shown["building_name"], shown["channel"]) == ("", "", None)
    assert shown["phone_tail"] is None and shown["skills"] == ["errands"]
    # The other sign-up for the same phone and the other person's are untouched.
    still = {s["display_name"]: s for s in await listed(client, "pending")}
    assert set(still) == {"王阿姨", "李建国"}
    for name, building in (("王阿姨", "9号楼B"), ("李建国", "4号楼")):
        row = dict(await db.fetchrow(COLUMNS, still[name]["registration_id"]))
        assert (row["status"], row["display_name"], row["building_name"]) == (
            "pending",
            name,
            building,
        )
        assert row["channel"] == CHANNEL and row["profile"] is not None
        assert row["phone_key"] is not None
    assert still["王阿姨"]["same_phone"] == 1 and still["王阿姨"]["phone_tail"] == "9901"

    # Rejected twice: 409, and nothing comes back.
    again = await client.post(f"{REGS}/{rejected}/reject", headers=STAFF)
    assert again.status_code == 409, again.text
    assert (await db.fetchrow(COLUMNS, rejected))["display_name"] == ""


async def test_an_approval_keeps_the_name_the_roster_has(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """On the roster: the name, building and channel stay on the approved sign-up (its
    phone and digest go, as before; a retirement erases the name)."""
    await sign_up(api, client, form("赵德明", "13800009903", "6号楼"))
    [signup] = [s for s in await listed(client, "pending") if s["display_name"] == "赵德明"]
    rid = signup["registration_id"]
    await decide(client, rid, "approve")
    row = dict(await db.fetchrow(COLUMNS, rid))
    assert (row["status"], row["display_name"], row["building_name"], row["channel"]) == (
        "approved",
        "赵德明",
        "6号楼",
        CHANNEL,
    )
    assert (row["profile"], row["phone_key"]) == (None, None)
    [shown] = await listed(client, "approved")
    assert (shown["display_name"], shown["building_name"]) == ("赵德明", "6号楼")
