"""Review 30 through the real parts (API, worker, Kafka, PostgreSQL).

Finding 1: compound cb's household ledger naming a door "A101", as compound ca's did, took
over ca's household (its printed card then sent cb's phone and address, and ca's 独居 tag
was gone). Each compound's "A101" is now its own household; a household stored for another
compound is never written over; households stored under the old ids move into their
compound (migration 0391) and keep their card.

Finding 2: personal data is kept while listed. A retired household keeps no contact or
tags (its card token stays, so listing it again revives the same card with the contact the
ledger brings); a retired roster member keeps no name in `roster_members`, and the worker's
helper table (read back from its changelog) keeps no phone, name or detail of theirs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.maintenance.rekey_helpers import read_helper_states
from dispatcher.record.edge import households as edge
from dispatcher.record.migrate import apply_migrations
from dispatcher.roster.places import household_id
from dispatcher.testing.stack import LocalStack
from schemas.helpers import HelperProfile
from schemas.households import Household
from schemas.places import PlacePath
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token", "content-type": "text/csv; charset=utf-8"}
HEAD = "小区编号,小区,楼栋,户号,户主,电话,地址,标签\n"
CA = "ca,甲小区,1号楼,A101,张奶奶,13911110001,甲小区1号楼A101,独居\n"
CB = "cb,乙小区,7号楼,A101,赵先生,13922220002,乙小区7号楼A101,\n"
NOW = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    stack.start_worker()
    await stack.start_api()
    return stack


async def households(
    client: httpx.AsyncClient, community: str, csv: str, status: int = 200
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/admin/communities/{community}/households", content=csv.encode(), headers=STAFF
    )
    assert r.status_code == status, r.text
    report: dict[str, Any] = r.json()
    return report


async def row(db: asyncpg.Connection, community: str, hid: str) -> dict[str, Any]:
    found = await db.fetchrow(
        "SELECT place->>'compound_id' AS compound, contact, tags, card_token, retired_at "
        "FROM households WHERE community_id = $1 AND household_id = $2",
        community,
        hid,
    )
    assert found is not None, hid
    return {**dict(found), "contact": json.loads(found["contact"])}


def card(report: dict[str, Any], hid: str) -> str:
    return next(str(c["card_path"]) for c in report["cards"] if c["household_id"] == hid)


# ---------------------------------------------------------------------- finding 1
async def test_two_compounds_a101_are_two_households(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    c = "rev30-two"
    first = await households(client, c, HEAD + CA)
    second = await households(client, c, HEAD + CB)
    assert card(first, "hh-ca-A101") != card(second, "hh-cb-A101")
    ca = await row(db, c, "hh-ca-A101")
    assert ca["compound"] == "ca" and ca["retired_at"] is None
    assert ca["contact"]["phone"] == "13911110001" and ca["tags"] == ["lives_alone"]
    assert card(first, "hh-ca-A101") == f"/card/{ca['card_token']}"
    assert (await row(db, c, "hh-cb-A101"))["contact"]["phone"] == "13922220002"
    # ca's card still opens ca's household.
    assert (await client.get(card(first, "hh-ca-A101"))).status_code == 200
    opened = await edge.by_card(db, str(ca["card_token"]))
    assert opened is not None and opened.household.phone == "13911110001"


def household(community: str, hid: str, compound: str, phone: str) -> Household:
    return Household(
        household_id=hid,
        place=PlacePath(community_id=community, compound_id=compound, household_id=hid),
        phone=phone,
    )


@pytest.mark.parametrize("retired", [False, True], ids=["listed", "retired"])
async def test_a_household_of_another_compound_is_never_written_over(
    db: asyncpg.Connection, retired: bool
) -> None:
    """However an id comes to be shared (an id that was stored before, a crafted cell),
    the upsert refuses: nothing written, the other compound's household as it was."""
    c = f"rev30-foreign-{retired}"
    theirs = household(c, "hh-shared", "ca", "13911110001")
    tokens = await edge.record(db, [(theirs, [])], NOW)
    if retired:
        await edge.retire(db, c, ["hh-shared"], NOW)
    before = await row(db, c, "hh-shared")
    mine = household(c, "hh-shared", "cb", "13922220002")
    fresh = household(c, "hh-cb-fresh", "cb", "13922220003")
    assert await edge.foreign(db, [mine, fresh]) == {"hh-shared": "ca"}
    with pytest.raises(edge.ForeignHousehold) as refused:
        await edge.record(db, [(fresh, []), (mine, [])], NOW)
    assert refused.value.compounds == {"hh-shared": "ca"}
    assert "hh-shared" not in str(refused.value)  # ids name flats: not in a logged message
    assert await row(db, c, "hh-shared") == before
    assert before["card_token"] == tokens["hh-shared"]
    assert (
        await db.fetchval(  # the whole upsert rolled back
            "SELECT count(*) FROM households WHERE community_id = $1 AND household_id = $2",
            c,
            "hh-cb-fresh",
        )
        == 0
    )
    # The same compound's re-import still updates it (and revives it), card kept.
    again = await edge.record(db, [(household(c, "hh-shared", "ca", "13911110009"), [])], NOW)
    assert again == tokens
    assert (await row(db, c, "hh-shared"))["contact"]["phone"] == "13911110009"


async def test_an_import_that_would_take_over_another_compounds_household_is_refused(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Compound "a"'s door "b-X1" and compound "a-b"'s door "X1" are both "hh-a-b-X1": the
    second import is refused (422), the first household as it was."""
    c = "rev30-clash"
    await households(client, c, HEAD + "a,甲小区,1号楼,b-X1,张奶奶,13911110001,,独居\n")
    before = await row(db, c, "hh-a-b-X1")
    clash = HEAD + "a-b,乙小区,7号楼,X1,赵先生,13922220002,,\n"
    refused = await households(client, c, clash, status=422)
    [problem] = refused["rejected"]
    assert problem["row"] == 2 and "(a)" in problem["errors"][0], refused
    assert refused["committed"] is False
    assert await row(db, c, "hh-a-b-X1") == before
    assert before["compound"] == "a" and before["contact"]["phone"] == "13911110001"
    # partial=true: the other rows are imported, the clash is reported, no one retired.
    r = await client.post(
        f"/v1/admin/communities/{c}/households?partial=true",
        content=(clash + "a-b,乙小区,7号楼,X2,钱先生,13922220003,,\n").encode(),
        headers=STAFF,
    )
    assert r.status_code == 200, r.text
    assert [p["row"] for p in r.json()["rejected"]] == [2]
    assert [c["household_id"] for c in r.json()["cards"]] == ["hh-a-b-X2"]
    assert await row(db, c, "hh-a-b-X1") == before


async def test_stored_old_ids_move_into_their_compound_and_keep_their_card(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Households stored before, under the id the ledger wrote: migration 0391 moves them
    into their compound, so the next import of the same ledger finds them, card and all."""
    c = "rev30-legacy"
    long_id = "L" * 62
    place = {"community_id": c, "compound_id": "ca"}
    legacy = [
        ("A101", "tok-rev30-a101", '{"phone": "13911110001"}', None),
        ("hh-ca-b1-0-502", "tok-rev30-room", "{}", None),  # a room's id: stays
        (long_id, "tok-rev30-long", "{}", None),
        ("B202", "tok-rev30-gone", '{"name": "钱奶奶", "phone": "13911110002"}', NOW),
    ]
    await db.executemany(
        "INSERT INTO households (community_id, household_id, place, tags, contact, "
        "card_token, listed_at, retired_at) VALUES ($1, $2, $3::jsonb, '{lives_alone}', "
        "$4::jsonb, $5, $6, $7)",
        [
            (c, hid, json.dumps({**place, "household_id": hid}), contact, token, NOW, gone)
            for hid, token, contact, gone in legacy
        ],
    )
    await db.execute(
        "INSERT INTO roster_members (community_id, helper_id, compound_id, display_name, "
        "listed_at, retired_at) VALUES ($1, 'old-helper', 'ca', '孙先生', $2, $2)",
        c,
        NOW,
    )
    await db.execute("DELETE FROM schema_migrations WHERE version = 391")
    assert await apply_migrations(db) == ["0391_household_compound_ids.sql"]
    moved = {
        r["household_id"]: r
        for r in await db.fetch(
            "SELECT household_id, card_token, place->>'household_id' AS on_place, contact "
            "FROM households WHERE community_id = $1",
            c,
        )
    }
    digest = household_id(long_id, "ca", None, None)  # the SQL digest is Python's
    assert set(moved) == {"hh-ca-A101", "hh-ca-b1-0-502", digest, "hh-ca-B202"}
    assert all(r["on_place"] == hid for hid, r in moved.items())
    assert moved["hh-ca-A101"]["card_token"] == "tok-rev30-a101"
    assert moved[digest]["card_token"] == "tok-rev30-long"
    # Retired before: contact gone, and the member's name.
    assert json.loads(moved["hh-ca-B202"]["contact"]) == {}
    assert (
        await db.fetchval("SELECT display_name FROM roster_members WHERE community_id = $1", c)
        == ""
    )
    # The same ledger again: the same household, the same card, nobody retired.
    ledger = HEAD + CA + f"ca,甲小区,1号楼,{long_id},,,,\n" + "ca,甲小区,1号楼,502,,,,\n"
    report = await households(client, c, ledger)
    assert card(report, "hh-ca-A101") == "/card/tok-rev30-a101"
    assert card(report, digest) == "/card/tok-rev30-long"
    assert card(report, "hh-ca-b1-0-502") == "/card/tok-rev30-room"
    assert report["retired"] == []  # B202 was retired before: not retired again


# ---------------------------------------------------------------------- finding 2
async def test_a_retired_household_keeps_no_contact_and_comes_back_with_its_card(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    c = "rev30-retire"
    both = HEAD + CA + "ca,甲小区,1号楼,A102,李阿公,13911110003,甲小区1号楼A102,独居\n"
    first = await households(client, c, both)
    token = card(first, "hh-ca-A102")
    report = await households(client, c, HEAD + CA)
    assert report["retired"] == [
        {"household_id": "hh-ca-A102", "compound_id": "ca", "building": "甲小区 1号楼"}
    ]
    gone = await row(db, c, "hh-ca-A102")
    assert gone["retired_at"] is not None
    assert gone["contact"] == {} and gone["tags"] == []
    assert f"/card/{gone['card_token']}" == token
    assert (await client.post(token, json={"category": "fall"})).status_code == 410
    # Listed again: the same card, with the contact the ledger brings.
    again = await households(client, c, both)
    assert card(again, "hh-ca-A102") == token
    back = await row(db, c, "hh-ca-A102")
    assert back["retired_at"] is None and back["contact"]["phone"] == "13911110003"
    assert back["tags"] == ["lives_alone"]


async def test_a_retired_helper_keeps_no_name_or_contact(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    c = "rev30-helpers"
    roster = "编号,姓名,电话,小区编号,小区,楼栋\nkeep-30,林阿姨,13800000101,c1,图强小区,9号楼\n"
    gone = "gone-30,黄先生,13800000102,c1,图强小区,3号楼\n"
    path = f"/v1/admin/communities/{c}/roster"
    r = await client.post(path, content=(roster + gone).encode(), headers=STAFF)
    assert r.status_code == 200 and r.json()["imported"] == 2, r.text

    async def sealed(helper_id: str) -> HelperProfile | None:
        states = await read_helper_states(api.settings())
        profile = next((s.profile for s in states if s.helper_id == helper_id), None)
        return profile if profile is not None and profile.sealed_phone is not None else None

    await eventually(lambda: sealed("gone-30"), what="gone-30 recorded with a contact")
    r = await client.post(path, content=roster.encode(), headers=STAFF)
    assert [m["helper_id"] for m in r.json()["retired"]] == ["gone-30"], r.text
    name = await db.fetchrow(
        "SELECT display_name, retired_at FROM roster_members WHERE community_id = $1 "
        "AND helper_id = 'gone-30'",
        c,
    )
    assert name is not None and name["retired_at"] is not None and name["display_name"] == ""

    async def stripped() -> HelperProfile | None:
        states = await read_helper_states(api.settings())
        profile = next(s.profile for s in states if s.helper_id == "gone-30")
        if profile.active:
            return None
        return profile

    profile = await eventually(stripped, what="gone-30 deactivated")
    assert (profile.sealed_phone, profile.sealed_name, profile.sealed_detail) == (None, None, None)
    assert (profile.phone_key, profile.name) == (None, "")
    assert await sealed("keep-30") is not None  # who stays keeps their contact
