"""A sign-up staff never decide lapses and forgets the person (review 38), through the real
API, the real `python -m dispatcher purge` and PostgreSQL.

A helper's self-registration kept the person's name, building, channel, profile (with the
phone, plain) and phone digest for as long as staff left it undecided: forever, since
nothing but a decision cleared them. Now the purge (the API's hourly run, or the command
with `--now`) marks pending sign-ups made more than `DISPATCH_SIGNUP_PENDING_DAYS`
(default 30) days before 'lapsed' and clears what a rejection clears. A younger pending
sign-up and decided ones (approved, rejected) stay as they were; staff list the lapsed
under `?status=lapsed` (empty name and building) and can no longer decide them (409); the
person can sign up again, and be approved.

Sign-ups are made through the join page (created now); the old ones are then dated back
ten days in the table (how the test ages them without waiting), and the purge runs as of a
time in the future: 25 days after the young one was made, 35 after the old ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.security.cli import run_json
from tests.support import signups
from tests.support.private_phones import phones_and_robot
from tests.support.signups import form

C = "s38-lapse"
AGED = timedelta(days=10)  # how far back the old sign-ups are dated
AHEAD = timedelta(days=25)  # the purge's `now`, after the young sign-up was made
ROW = "SELECT * FROM helper_registrations WHERE registration_id = $1"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    async with phones_and_robot(stack):  # worker and API, "webhook:phones" a private channel
        yield stack


async def sign_up(api: LocalStack, client: httpx.AsyncClient, data: dict[str, Any]) -> None:
    await signups.sign_up(api, client, C, data)


async def listed(client: httpx.AsyncClient, status: str) -> list[dict[str, Any]]:
    return await signups.listed(client, C, status)


async def decide(client: httpx.AsyncClient, rid: str, action: str) -> httpx.Response:
    return await signups.decide(client, C, rid, action)


def purge(api: LocalStack, now: datetime, **env: str) -> dict[str, Any]:
    """`python -m dispatcher purge --now …` with the namespace's settings (and `env`)."""
    return run_json(api, "purge", "--now", now.isoformat(), **env)


async def test_an_undecided_signup_lapses_forgotten_and_the_person_may_sign_up_again(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    people = {
        "old": ("王秀英", "13800003801", "9号楼"),  # never decided: lapses
        "young": ("李建国", "13800003802", "4号楼"),  # never decided, but recent: stays
        "approved": ("赵德明", "13800003803", "6号楼"),  # decided: untouched
        "rejected": ("陈芳", "13800003804", "2号楼"),  # decided: untouched
    }
    for name, phone, building in people.values():
        await sign_up(api, client, form(name, phone, building))
    by_name = {s["display_name"]: s for s in await listed(client, "pending")}
    rid = {who: by_name[p[0]]["registration_id"] for who, p in people.items()}
    assert (await decide(client, rid["approved"], "approve")).status_code == 200
    assert (await decide(client, rid["rejected"], "reject")).status_code == 200
    for who in ("old", "approved", "rejected"):
        await db.execute(
            "UPDATE helper_registrations SET created_at = created_at - $2::interval"
            " WHERE registration_id = $1",
            rid[who],
            AGED,
        )
    before = {who: dict(await db.fetchrow(ROW, r)) for who, r in rid.items()}
    now = before["young"]["created_at"] + AHEAD
    assert now - before["old"]["created_at"] >= AHEAD + AGED  # 35 days, > the default 30
    assert before["old"]["profile"] is not None and before["old"]["phone_key"] is not None

    # The days are the setting's: at 40, nothing has waited long enough.
    assert purge(api, now, DISPATCH_SIGNUP_PENDING_DAYS="40")["signups_lapsed"] == 0
    assert dict(await db.fetchrow(ROW, rid["old"])) == before["old"]

    # At the default 30 the old one lapses, and keeps nothing of the person.
    assert purge(api, now)["signups_lapsed"] == 1
    old = dict(await db.fetchrow(ROW, rid["old"]))
    assert old == {
        **before["old"],
        "status": "lapsed",
        "display_name": "",  # was 王秀英
        "building_name": "",  # was 9号楼
        "channel": None,  # was webhook:phones
        "profile": None,  # held the phone
        "phone_key": None,
        "helper_id": f"forgotten-{rid['old']}",  # keyed from the phone: would link (0416)
        "decided_at": now,  # when it lapsed
        "decided_by": None,  # nobody decided
    }
    assert old["skills"] == ["errands"]
    for who in ("young", "approved", "rejected"):
        assert dict(await db.fetchrow(ROW, rid[who])) == before[who], who
    assert purge(api, now)["signups_lapsed"] == 0  # a second run finds nothing

    # Staff see it among the lapsed, with nothing of the person, and cannot decide it.
    [shown] = await listed(client, "lapsed")
    assert shown["registration_id"] == rid["old"] and shown["status"] == "lapsed"
    assert (shown["display_name"], shown["building_name"], shown["channel"]) == ("", "", None)
    assert shown["phone_tail"] is None
    assert [s["registration_id"] for s in await listed(client, "pending")] == [rid["young"]]
    for action in ("approve", "reject"):
        refused = await decide(client, rid["old"], action)
        assert refused.status_code == 409, refused.text
    assert dict(await db.fetchrow(ROW, rid["old"])) == old

    # The person signs up again: a new pending sign-up, theirs alone, which staff approve.
    await sign_up(api, client, form("王秀英", "13800003801", "9号楼"))
    [again] = [s for s in await listed(client, "pending") if s["display_name"] == "王秀英"]
    assert again["registration_id"] != rid["old"]
    assert again["helper_id"] == before["old"]["helper_id"] != old["helper_id"]  # unlinked
    assert (again["same_phone"], again["phone_tail"], again["in_roster"]) == (1, "3801", False)
    approved = await decide(client, again["registration_id"], "approve")
    assert approved.status_code == 200, approved.text
    assert dict(await db.fetchrow(ROW, rid["old"])) == old  # the lapsed one stays as it was
