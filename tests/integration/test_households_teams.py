"""Households, party and teams through the real parts (issue 14 items 2 and 5): the
household ledger pairs a helper with a tagged household; the household's contact card
becomes a request offered to that paired helper first; a team's leader accepts for two
and two slots fill; a leader names who goes and each named member is tracked on their
own (push, page, can't-come reopening their slot only, done with minutes, hours); the
community's party-first setting and 党员楼长 reach the worker."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.record.read.reports import service_hours
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.cli import run_cli
from tests.support.links import offer_path
from tests.support.private_phones import pushes
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
CSV = "text/csv; charset=utf-8"
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
COMMUNITY = "comm-card"
HOUSEHOLD = "hh-c1-b3-2-502"  # 图强小区 (c1) 3号楼 2单元 502, as the ledger names it

# Helpers, through the ledger (团队, 职务 columns): a team of three whose leader lives in
# building 5 with a carrier beside it, a 党员楼长 of building 8, a volunteer and a party
# member in building 6, a neighbour in the household's own building and the paired helper
# far away in building 9.
ROSTER = (
    "编号,姓名,电话,小区编号,小区,网格,楼栋,技能,党员,职务,团队\n"
    "paired-1,林阿姨,13800000101,c1,图强小区,g1,9号楼,帮忙,否,志愿者,\n"
    "near-1,黄先生,13800000102,c1,图强小区,g1,3号楼,急救,否,志愿者,\n"
    "leader-1,陈队长,13800000103,c1,图强小区,g1,5号楼,搬运,是,志愿者,帮帮团(队长)\n"
    "member-1,吴师傅,13800000104,c1,图强小区,g1,7号楼,搬运,否,志愿者,帮帮团\n"
    "member-2,赵师傅,13800000105,c1,图强小区,g1,7号楼,搬运,否,志愿者,帮帮团\n"
    "a-vol,郑先生,13800000106,c1,图强小区,g1,6号楼,搬运,否,志愿者,\n"
    "z-party,周女士,13800000107,c1,图强小区,g1,6号楼,搬运,是,志愿者,\n"
    "head-8,何楼长,13800000108,c1,图强小区,g1,8号楼,帮忙,,党员楼长,\n"
    "carrier-5,孙先生,13800000109,c1,图强小区,g1,5号楼,搬运,否,志愿者,\n"
)
HOUSEHOLDS = (
    "小区编号,小区,网格,楼栋,单元,户号,户主,电话,标签,年龄,结对\n"
    "c1,图强小区,g1,3号楼,2,502,王阿婆,13912345678,独居、高龄,88,paired-1\n"
)
# The throttling test floods a card of its own, in a compound of its own (a ledger retires
# only in the compounds it lists): a card's press bucket lives as long as the module's API,
# and the ledger test below presses 王阿婆's card again after retiring it.
FLOODED = (
    "小区编号,小区,网格,楼栋,单元,户号,户主,电话,标签,年龄,结对\n"
    "c9,图强九区,g1,1号楼,1,101,李阿公,13912345679,独居,80,paired-1\n"
)


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    # Every push reaches a phone (a local receiver), so no offer fails and the ladder
    # waits each rung out (real time: the urgent paired ring 60 s, the building 120 s).
    async with PushReceiver() as phones:
        endpoint = {"name": "default", "kind": "webhook", "url": phones.url("/phones")}
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([{**endpoint, "secret": SECRET}])
        stack.extra_env["DISPATCH_PARTY_FIRST"] = json.dumps({COMMUNITY: {"default": True}})
        stack.start_worker()
        await stack.start_api()
        # Read at start only; `stack.settings()` (the links' signing) takes no JSON values.
        for name in ("DISPATCH_PUSH_ENDPOINTS", "DISPATCH_PARTY_FIRST"):
            stack.extra_env.pop(name)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            r = await client.post(
                f"/v1/admin/communities/{COMMUNITY}/roster",
                content=ROSTER.encode(),
                headers={**STAFF, "content-type": CSV},
            )
            assert r.status_code == 200 and r.json()["imported"] == 9, r.text
        yield phones


@pytest.fixture(scope="module")
async def api(stack: LocalStack, phones: PushReceiver) -> LocalStack:
    return stack  # started by `phones`: the worker pushes to its receiver


async def offers_of(db: asyncpg.Connection, rid: str) -> dict[str, tuple[str, int]]:
    rows = await db.fetch("SELECT helper_id, ring, step FROM offers WHERE request_id = $1", rid)
    return {r["helper_id"]: (r["ring"], r["step"]) for r in rows}


async def offered(db: asyncpg.Connection, rid: str, helper: str) -> str:
    async def find() -> str | None:
        return await db.fetchval(  # type: ignore[no-any-return]
            "SELECT offer_id FROM offers WHERE request_id = $1 AND helper_id = $2", rid, helper
        )

    return await eventually(find, what=f"an offer to {helper}")


async def submit(client: httpx.AsyncClient, building: str, **fields: object) -> str:
    """A staff-made request in one of the compound's buildings (normal unless said); its
    id."""
    fields.setdefault("urgency", "normal")
    body = builders.request(
        COMMUNITY, source=None, place=builders.place(COMMUNITY, building=building), **fields
    )
    r = await client.post("/v1/requests", json=body, headers=STAFF)
    assert r.status_code == 202, r.text
    return str(r.json()["request_id"])


async def test_a_contact_card_request_from_a_tagged_household_goes_to_its_paired_helper_first(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    r = await client.post(
        f"/v1/admin/communities/{COMMUNITY}/households",
        content=HOUSEHOLDS.encode(),
        headers={**STAFF, "content-type": CSV},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["imported"], report["tagged"], report["pairings"]) == (1, 1, 1)
    (card,) = report["cards"]
    assert card["household_id"] == HOUSEHOLD

    async def paired() -> bool:  # the pairing went through the commands topic
        n = await db.fetchval(
            "SELECT count(*) FROM event_log WHERE type = 'helper_updated' "
            "AND body->>'helper_id' = 'paired-1'"
        )
        return int(n) >= 2  # the roster's upsert, then the pairing

    await eventually(paired, what="the pairing applied")

    page = await client.get(card["card_path"])
    assert page.status_code == 200 and "摔倒" in page.text
    assert "13912345678" not in page.text and "王阿婆" not in page.text  # no personal data

    answer = await client.post(card["card_path"], json={"category": "fall"})
    assert answer.status_code == 202, answer.text
    rid = answer.json()["request_id"]
    await offered(db, rid, "paired-1")
    offers = await offers_of(db, rid)
    # The paired helper, far away and without the skill, is asked first and alone: the
    # neighbour in the same building waits for the building ring (60 s later).
    assert offers == {"paired-1": ("paired", 0)}, offers
    row = await db.fetchrow("SELECT urgency, category FROM requests WHERE request_id = $1", rid)
    assert (row["urgency"], row["category"]) == ("urgent", "fall")

    # The accepted paired helper sees the household's contact: the card knew who asked.
    offer_id = await offered(db, rid, "paired-1")
    accepted = await client.post(offer_path(api, COMMUNITY, rid, offer_id, "paired-1"))
    assert accepted.status_code == 200 and "13912345678" in accepted.text, accepted.text


async def test_an_unknown_card_is_refused_and_nothing_is_sent(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    before = await db.fetchval("SELECT count(*) FROM api_intake")
    for path in ("/card/" + "A" * 24, "/card/" + "x" * 24 + "?category=fall"):
        r = await client.post(path, json={"category": "fall"})
        assert r.status_code == 404, r.text
        assert (await client.get(path)).status_code == 404
    assert (await client.post("/card/short")).status_code == 422  # not a card token at all
    assert await db.fetchval("SELECT count(*) FROM api_intake") == before


async def assigned(client: httpx.AsyncClient, rid: str, n: int, what: str) -> None:
    """Wait until the read model (GET /v1/requests/{id}) counts `n` helpers assigned."""

    async def counted() -> dict[str, object] | None:
        s = await client.get(f"/v1/requests/{rid}", headers=STAFF)
        out: dict[str, object] = s.json()
        return out if out.get("helpers_assigned") == n else None

    await eventually(counted, what=what)


async def test_a_team_leader_accepting_for_two_fills_two_slots(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await submit(client, "b5", category="carrying", skills=["carrying"], helpers_needed=2)
    offer_id = await offered(db, rid, "leader-1")

    async def team() -> asyncpg.Record | None:
        return await db.fetchrow(  # type: ignore[no-any-return]
            "SELECT team_id, team_size FROM offers WHERE offer_id = $1 AND team_id IS NOT NULL",
            offer_id,
        )

    recorded = await eventually(team, what="the team offer recorded")
    assert (recorded["team_id"], recorded["team_size"]) == ("帮帮团", 3)
    path = offer_path(api, COMMUNITY, rid, offer_id, "leader-1")
    confirm = await client.get(path)
    assert 'name="member"' in confirm.text and "帮帮团" in confirm.text, confirm.text

    # A form from before names (only a count): the leader holds both slots, as then.
    accepted = await client.post(path, data={"members": "2"})
    assert accepted.status_code == 200, accepted.text

    await assigned(client, rid, 2, "two slots filled by the team")
    # Both slots are the team's: the neighbour asked beside it is stood down as covered.
    carrier = await offered(db, rid, "carrier-5")

    async def covered() -> str | None:
        return await db.fetchval(  # type: ignore[no-any-return]
            "SELECT body->>'reason' FROM event_log WHERE (type = 'offer_stood_down' "
            "AND body->>'offer_id' = $1) OR (type = 'offers_stood_down' "
            "AND body->'offers' @> jsonb_build_array(jsonb_build_object('offer_id', $1::text)))",
            carrier,
        )

    assert await eventually(covered, what="the other offer stood down") == "covered"
    members = await db.fetchval(
        "SELECT members FROM assignments WHERE request_id = $1 AND helper_id = 'leader-1'", rid
    )
    assert members == 2

    # The leader can't come after all: both slots they held are open again, in the read
    # model too (it once took back one).
    gone = await client.post(path + "/p/cant-come")
    assert gone.status_code == 200, gone.text

    await assigned(client, rid, 0, "both of the team's slots free again")


async def test_party_first_setting_and_the_party_building_head_reach_the_worker(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # Building 6: one slot, a wave of one. Without the community's setting the volunteer
    # (a-vol, first by id) would be asked; with it, the party member.
    rid = await submit(client, "b6", category="carrying", skills=["carrying"], helpers_needed=1)
    await offered(db, rid, "z-party")
    assert "a-vol" not in await offers_of(db, rid)

    # Building 8's 党员楼长 is asked at the very first step of an urgent request, though
    # that step is the (empty) paired ring and she has none of the skills asked for.
    rid = await submit(client, "b8", category="errand", urgency="urgent", skills=["errands"])
    await offered(db, rid, "head-8")
    assert (await offers_of(db, rid))["head-8"] == ("building", 0)


async def test_a_reimport_keeps_the_card_and_a_card_pressed_over_and_over_is_throttled(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    async def import_households() -> str:
        r = await client.post(
            f"/v1/admin/communities/{COMMUNITY}/households",
            content=FLOODED.encode(),
            headers={**STAFF, "content-type": CSV},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["cards"][0]["card_path"])

    path = await import_households()
    assert await import_households() == path  # the printed card keeps working
    statuses = [
        (await client.post(path, json={"category": "errand"})).status_code for _ in range(6)
    ]
    # A leaked card link cannot flood the neighbours: a few presses, then 429.
    assert 429 in statuses and set(statuses) <= {202, 429}, statuses


REQUESTER_PHONE = "13912345678"  # builders.request's contact


def assignment_push(phones: PushReceiver, rid: str, helper: str) -> dict[str, Any] | None:
    return next((p for p in pushes(phones, "assignment", helper) if p["request_id"] == rid), None)


def own_link(push: dict[str, Any]) -> str:
    """The member's own page, as their assignment message links it."""
    url = re.search(r"请点：(\S+)", push["text"])
    assert url, push["text"]
    return httpx.URL(url.group(1)).raw_path.decode()


async def test_a_leader_names_members_and_each_is_tracked_on_their_own(
    api: LocalStack, phones: PushReceiver, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rid = await submit(client, "b5", category="carrying", skills=["carrying"], helpers_needed=2)
    offer_id = await offered(db, rid, "leader-1")

    async def team_offer() -> str | None:
        return await db.fetchval(  # type: ignore[no-any-return]
            "SELECT team_id FROM offers WHERE offer_id = $1", offer_id
        )

    await eventually(team_offer, what="the team offer recorded")
    path = offer_path(api, COMMUNITY, rid, offer_id, "leader-1")
    # The checklist: the team's other active members in the ledger's order, the first
    # ticked (the request needs two: the leader and one more).
    form = (await client.get(path)).text
    boxes = re.findall(r'<input type="checkbox" name="member" value="([^"]+)"( checked)?', form)
    assert boxes == [("member-1", " checked"), ("member-2", "")], form

    # The leader goes with member-2 (not the default): two assignments, one each.
    accepted = await client.post(path, data={"named": "1", "member": "member-2"})
    assert accepted.status_code == 200 and REQUESTER_PHONE in accepted.text, accepted.text

    async def both() -> list[asyncpg.Record] | None:
        rows = await db.fetch(
            "SELECT helper_id, slot, signed_up_by FROM assignments WHERE request_id = $1 "
            "ORDER BY slot",
            rid,
        )
        return rows if len(rows) == 2 else None

    rows = await eventually(both, what="the leader's and the member's assignments")
    assert [tuple(r) for r in rows] == [("leader-1", 0, None), ("member-2", 1, "leader-1")]
    doc = (await client.get(f"/v1/requests/{rid}", headers=STAFF)).json()
    assert doc["helpers_assigned"] == 2

    await phones.wait_for(lambda: assignment_push(phones, rid, "member-2") is not None, 30)
    await phones.wait_for(lambda: assignment_push(phones, rid, "leader-1") is not None, 30)
    member_push = assignment_push(phones, rid, "member-2")
    leader_push = assignment_push(phones, rid, "leader-1")
    assert member_push is not None and leader_push is not None
    assert "队长陈队长为您报名了这次求助" in member_push["text"]
    assert REQUESTER_PHONE in member_push["text"]  # assigned: the contact is theirs
    assert "同去队员：赵师傅" in leader_push["text"]
    # The requester's contact reached only the two assigned people.
    told = [p for p in pushes(phones, "offer") + pushes(phones, "assignment")]
    reached = {
        p["recipient"]
        for p in told
        if p["request_id"] == rid and REQUESTER_PHONE in p.get("text", "")
    }
    assert reached == {"leader-1", "member-2"}, reached

    # The member opens their own link on their phone: the page, then their buttons.
    mine = own_link(member_push)
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as phone:
        page = await phone.get(mine)
        assert page.status_code == 200 and "为您报名" in page.text, page.text
        assert REQUESTER_PHONE not in page.text  # opening shows nothing private
        seen = await phone.post(mine)
        assert seen.status_code == 200 and REQUESTER_PHONE in seen.text, seen.text
        gone = await phone.post(mine + "/p/cant-come")
        assert gone.status_code == 200 and "这次去不了" in gone.text, gone.text

    async def released() -> asyncpg.Record | None:
        return await db.fetchrow(  # type: ignore[no-any-return]
            "SELECT released_why, released_at FROM assignments WHERE request_id = $1 "
            "AND helper_id = $2 AND released_at IS NOT NULL",
            rid,
            "member-2",
        )

    release = await eventually(released, what="the member's slot released")
    assert release["released_why"] == "withdrew"
    leader_row = await db.fetchrow(
        "SELECT released_at FROM assignments WHERE request_id = $1 AND helper_id = 'leader-1'",
        rid,
    )
    assert leader_row["released_at"] is None  # the leader still goes

    async def reoffered() -> list[str] | None:
        # Offers sent since the member withdrew. Since 2713983 a neighbour stood down as
        # covered at the leader's accept is asked first, under the same offer id: no new
        # row, its row sent again (status 'sent', sent_at moved), so not counted by rows.
        rows = await db.fetch(
            "SELECT helper_id FROM offers WHERE request_id = $1 AND status = 'sent' "
            "AND sent_at >= $2 ORDER BY sent_at",
            rid,
            release["released_at"],
        )
        return [r["helper_id"] for r in rows] or None

    again = await eventually(reoffered, what="the reopened slot offered")
    assert not {"leader-1", "member-2"} & set(again), again  # to someone else

    # The leader can't go after all either: since session 40 a helper assigned in person to
    # a live request is not offered the next one of the same urgency (the hold), and the
    # next one is the leader's. Withdrawing, not 已完成 nor a close: those would count the
    # leader among the month's helpers, and the hours below say only the member's count.
    assert (await client.post(path + "/p/cant-come")).status_code == 200

    async def leader_released() -> bool:
        return bool(
            await db.fetchval(
                "SELECT released_at IS NOT NULL FROM assignments WHERE request_id = $1 "
                "AND helper_id = 'leader-1'",
                rid,
            )
        )

    await eventually(leader_released, what="the leader's first assignment released")

    # The member the leader named before marks done with 30 minutes: their own hours.
    rid2 = await submit(client, "b5", category="carrying", skills=["carrying"], helpers_needed=2)
    offer2 = await offered(db, rid2, "leader-1")
    path2 = offer_path(api, COMMUNITY, rid2, offer2, "leader-1")
    await eventually(lambda: team_of_offer(db, offer2), what="the second team offer recorded")
    accepted = await client.post(path2, data={"named": "1", "member": "member-1"})
    assert accepted.status_code == 200, accepted.text
    await phones.wait_for(lambda: assignment_push(phones, rid2, "member-1") is not None, 30)
    push1 = assignment_push(phones, rid2, "member-1")
    assert push1 is not None
    mine = own_link(push1)
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as phone:
        assert (await phone.post(mine)).status_code == 200
        way = await phone.post(mine + "/p/on-my-way")
        assert way.status_code == 200 and "您在路上" in way.text, way.text
        done = await phone.post(mine + "/p/done", data={"minutes": "30"})
        assert done.status_code == 200 and "已完成" in done.text, done.text

    async def minutes() -> int | None:
        return await db.fetchval(  # type: ignore[no-any-return]
            "SELECT minutes_spent FROM assignments WHERE request_id = $1 AND helper_id = $2",
            rid2,
            "member-1",
        )

    assert await eventually(minutes, what="the member's minutes") == 30
    # The month the request opened in (the report's rule), not today's: a run at a month's
    # last local midnight opens it in one month and reads the hours in the next.
    opened = await db.fetchval("SELECT opened_at FROM requests WHERE request_id = $1", rid2)
    first = opened.astimezone(timezone(timedelta(hours=8))).date().replace(day=1)
    hours = {r["helper_id"]: r for r in await service_hours(db, COMMUNITY, first)}
    assert hours["member-1"]["service_hours"] == 0.5 and "leader-1" not in hours
    # The thank-you goes to the member who did it, privately.
    await phones.wait_for(
        lambda: any(p["request_id"] == rid2 for p in pushes(phones, "thank_you", "member-1")),
        30,
    )


async def team_of_offer(db: asyncpg.Connection, offer_id: str) -> str | None:
    return await db.fetchval(  # type: ignore[no-any-return]
        "SELECT team_id FROM offers WHERE offer_id = $1", offer_id
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HH2 = "hh-c1-b5-1-301"  # 5号楼 1单元 301, paired with a-vol (building 6)
LEDGER2 = [
    ["小区编号", "小区", "网格", "楼栋", "单元", "户号", "户主", "标签", "年龄", "结对"],
    ["c1", "图强小区", "g1", "3号楼", "2", "502", "王阿婆", "独居、高龄", "88", "paired-1"],
    ["c1", "图强小区", "g1", "5号楼", "1", "301", "陈叔", "独居", "86", "a-vol"],
]


def xlsx(rows: list[list[str]]) -> bytes:
    from tests.security.xlsx_files import build, inline_rows, sheet_xml

    return build(sheet_xml(inline_rows(rows), f"A1:J{len(rows)}"))


async def households_cli(stack: LocalStack, path: Path, *extra: str) -> tuple[dict[str, Any], str]:
    return await run_cli(stack, "households", "import", str(path), "--community", COMMUNITY, *extra)


async def helper_updates(db: asyncpg.Connection, helper_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM event_log WHERE type = 'helper_updated' "
            "AND body->>'helper_id' = $1",
            helper_id,
        )
    )


async def test_household_cli_xlsx_pairings_survive_a_helper_reimport_and_leavers_retire(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection, tmp_path: Path
) -> None:
    # 1. The household ledger as XLSX through the CLI: a new household paired with a-vol.
    ledger = tmp_path / "住户台账.xlsx"
    ledger.write_bytes(xlsx(LEDGER2))
    before = await helper_updates(db, "a-vol")
    report, progress = await households_cli(api, ledger)
    assert (report["imported"], report["tagged"], report["pairings"]) == (2, 2, 2), report
    assert report["retired"] == [] and "rows checked: 2" in progress
    cards = {c["household_id"]: c["card_path"] for c in report["cards"]}

    async def applied() -> bool:
        return await helper_updates(db, "a-vol") > before

    await eventually(applied, what="a-vol paired with the new household")

    # 2. The helper ledger again (its 结对 column empty; a-vol's skills changed, so the
    # core stores the new profile): the household ledger's pairings must survive it.
    roster = ROSTER.replace(
        "a-vol,郑先生,13800000106,c1,图强小区,g1,6号楼,搬运",
        "a-vol,郑先生,13800000106,c1,图强小区,g1,6号楼,搬运、开车",
    )
    seen = await helper_updates(db, "a-vol")
    r = await client.post(
        f"/v1/admin/communities/{COMMUNITY}/roster",
        content=roster.encode(),
        headers={**STAFF, "content-type": CSV},
    )
    assert r.status_code == 200 and r.json()["imported"] == 9, r.text

    async def reimported() -> bool:
        return await helper_updates(db, "a-vol") > seen

    await eventually(reimported, what="the helper ledger's new profile applied")
    answer = await client.post(cards[HH2], json={"category": "fall"})
    assert answer.status_code == 202, answer.text
    rid = answer.json()["request_id"]
    await offered(db, rid, "a-vol")
    # Still the paired helper first and alone, from another building.
    assert await offers_of(db, rid) == {"a-vol": ("paired", 0)}

    # 3. The household ledger without 王阿婆's household: retired (soft), its pairing ended.
    ledger.write_bytes(xlsx([LEDGER2[0], LEDGER2[2]]))
    dry, _ = await households_cli(api, ledger, "--dry-run")
    assert [g["household_id"] for g in dry["retired"]] == [HOUSEHOLD] and not dry["committed"]
    assert (await client.get(cards[HOUSEHOLD])).status_code == 200  # a dry run changes nothing
    report, progress = await households_cli(api, ledger)
    assert [g["household_id"] for g in report["retired"]] == [HOUSEHOLD], report
    assert report["unpaired"] == 1 and f"retired: {HOUSEHOLD}" in progress
    assert "13912345678" not in progress + json.dumps(report["retired"])  # no phone there
    intake = await db.fetchval("SELECT count(*) FROM api_intake")
    page = await client.get(cards[HOUSEHOLD])
    assert page.status_code == 410 and "已停用" in page.text
    pressed = await client.post(cards[HOUSEHOLD], json={"category": "fall"})
    assert pressed.status_code == 410 and pressed.json()["detail"]["reason"] == "retired_card"
    assert await db.fetchval("SELECT count(*) FROM api_intake") == intake  # nothing sent

    # 4. Listed again (XLSX through the API): revived, with the same printed card.
    r = await client.post(
        f"/v1/admin/communities/{COMMUNITY}/households",
        content=xlsx(LEDGER2),
        headers={**STAFF, "content-type": XLSX},
    )
    assert r.status_code == 200 and r.json()["retired"] == [], r.text
    assert {c["household_id"]: c["card_path"] for c in r.json()["cards"]} == cards
    assert (await client.get(cards[HOUSEHOLD])).status_code == 200
