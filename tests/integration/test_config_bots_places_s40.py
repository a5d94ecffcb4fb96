"""Session 40, on the real stack (Kafka, PostgreSQL, the API process): the three gaps of the
configuration's place checks (tests/unit/test_config_bots_places_s40.py has the detail).

- A bot stored with a flat in its group's building name (written before b2a5cb1: here
  straight to the `config` topic) took no edit: the staff API's key rotation answered 422
  place_name_has_flat, so a leaked key stayed valid. Now the rotation goes through and the
  name is cut to its building ('3号楼'), said in `names_cut`.
- A group's building_id took a phone, or a building its community does not have: now a
  422 with the reason.
- An API started with a bots file naming a flat in a group's place ran with it; now it
  stops, its log naming the bot and the field, never the flat or phone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dispatcher.config.follower import ConfigWriter
from dispatcher.config.secrets import new_secret
from dispatcher.testing.ports import free_port
from dispatcher.testing.stack import LocalStack
from schemas.config import ConfigKind
from tests.support.config_records import old_record
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "comm-s40-places"
BOT = "s40-places-bot"
FLAT = "3号楼2单元502室"
PHONE = "13800138000"
ROOT = "/v1/admin/config"


def bot(**group: Any) -> dict[str, Any]:
    place = {"community_id": COMMUNITY, "compound_id": "tq", "compound_name": "图强小区"}
    return {
        "bot_id": BOT,
        "secrets": [new_secret()],
        "communities": [COMMUNITY],
        "groups": {"grp": place | group},
    }


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    await stack.start_api()
    yield stack


def clean(text: str) -> None:
    assert PHONE not in text and "502" not in text, text


async def test_a_bot_stored_with_a_flat_in_its_place_still_has_its_key_rotated(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    writer = ConfigWriter(api.settings())
    try:  # as the API wrote it before the place checks
        await writer.write(
            old_record(ConfigKind.BOT, BOT, bot(building_name=FLAT), communities=(COMMUNITY,))
        )
    finally:
        await writer.close()

    async def shown() -> dict[str, Any] | None:
        r = await client.get(f"{ROOT}/communities/{COMMUNITY}", headers=STAFF)
        bots = [b for b in r.json()["bots"] if b["bot_id"] == BOT]
        return bots[0]["groups"]["grp"] if bots else None

    group = await eventually(shown, what="the stored bot in the API's view")
    assert group["building_name"] == FLAT  # stored before: still read

    r = await client.post(f"{ROOT}/bots/{BOT}/rotate", json={}, headers=STAFF)
    assert r.status_code == 200, r.text  # was 422 place_name_has_flat: the key stuck
    answer = r.json()
    assert list(answer["new_secrets"]) == [f"bot/{BOT}"]
    assert answer["names_cut"] == {f"bot/{BOT}": ["groups.grp.building_name"]}
    group = await shown()
    assert group is not None and group["building_name"] == "3号楼"
    r = await client.delete(f"{ROOT}/bots/{BOT}/previous-secrets", headers=STAFF)
    assert r.status_code == 200, r.text

    # A flat the edit brings is still refused.
    r = await client.put(f"{ROOT}/bots/{BOT}", json=bot(building_name=FLAT), headers=STAFF)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "place_name_has_flat"
    clean(r.text)


async def test_a_group_building_id_that_references_no_building_is_a_422_with_its_reason(
    api: LocalStack, client: httpx.AsyncClient
) -> None:
    compound = {"compound_id": "tq", "name": "图强小区", "buildings": [{"building_id": "b3"}]}
    doc = {
        "display_name": "四十社区",
        "grids": [{"grid_id": "g1", "name": "一网格", "compounds": [compound]}],
    }
    r = await client.put(f"{ROOT}/communities/{COMMUNITY}", json=doc, headers=STAFF)
    assert r.status_code == 200, r.text
    for building_id, reason in (("b9", "unknown_building"), (PHONE, "invalid_building_id")):
        r = await client.put(f"{ROOT}/bots/{BOT}", json=bot(building_id=building_id), headers=STAFF)
        assert r.status_code == 422, r.text
        assert r.json()["detail"]["reason"] == reason
        assert f"bot/{BOT}: groups.grp.building_id" in r.json()["detail"]["message"]
        clean(r.text)
    r = await client.put(f"{ROOT}/bots/{BOT}", json=bot(building_id="b3"), headers=STAFF)
    assert r.status_code == 200, r.text


async def test_an_api_given_a_bots_file_with_a_flat_in_a_place_stops_naming_the_field(
    api: LocalStack,
) -> None:
    path = api.root / "bad-bots.json"
    path.write_text(json.dumps({"bots": [bot(building_name=FLAT, compound_name=PHONE)]}))
    env = api.env(DISPATCH_BOTS_FILE=str(path), DISPATCH_API_PORT=str(free_port()))
    proc = api.spawn("api-bad-bots-file", "api", env=env)
    deadline = time.monotonic() + 60
    while proc.alive() and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    assert not proc.alive(), proc.log_tail()  # was: it ran, labelling requests with the flat
    log = proc.log_path.read_text(errors="replace")
    assert f"DISPATCH_BOTS_FILE[{BOT}].groups.grp.building_name place_name_has_flat" in log, log
    assert f"DISPATCH_BOTS_FILE[{BOT}].groups.grp.compound_name place_name_has_phone" in log
    clean(log)
