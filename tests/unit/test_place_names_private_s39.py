"""Session 39 (privacy at the source): a place's display names (compound, building) are what
every push, page, group text, report and the read model's `building_label` show, so the
flat and phones stay out of them where they come in.

- The ledgers: a 楼栋 cell written down to the flat ("3号楼2单元502室") was kept whole as
  the building's name. Now the name is "3号楼" (the id the cell always had: households'
  ids, cards and pairings do not change), a note says what was left out, and a household
  ledger keeps the whole cell as the household's sealed 地址 when that cell is empty. A 楼栋
  with a phone or a room and no building, or a 小区 holding a flat or phone, rejects the
  row naming the column (never quoting it).
- The API: the admin helper body (`PlaceIn`) refuses a `place.building_name` /
  `compound_name` with a phone or a unit/room, a 422 naming the field and where the flat
  belongs, never echoing it; a help request (`RequestPlaceIn`) is never refused for it (it
  may be an emergency): the name is cut to its building, or dropped when it holds a phone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.models import HelpRequestIn, PlaceIn
from dispatcher.roster import places
from dispatcher.roster.households import ParsedHouseholds, parse_households
from dispatcher.roster.ledger import RosterPlace, parse_roster
from dispatcher.roster.places import building, compound_id_for, household_id
from dispatcher.settings import Settings
from tests.unit.test_api_clock import RecordingSink
from tests.unit.test_api_fuzz_refusals import AuditPool

WHERE = RosterPlace("siming")
FLAT = "3号楼2单元502室"
PHONE = "13800138000"
HEADER = "小区,楼栋,单元,户号,户主,电话,地址,标签\n"


def _households(*rows: str) -> ParsedHouseholds:
    return parse_households((HEADER + "".join(r + "\n" for r in rows)).encode(), WHERE)


# The ids these cells always had (HEAD~1's `building`): households' ids are built on them, so
# a re-import keeps its households, their printed cards and their pairings.
@pytest.mark.parametrize(
    ("cell", "name", "building_id"),
    [
        (FLAT, "3号楼", "b-c9c6947a54"),
        ("3号楼 2单元 502室", "3号楼", "b-c9c6947a54"),
        ("3-2-502", "3号楼", "b-3e4bf2c198"),
        ("3号楼2-502", "3号楼", "b-079efe03a7"),
        ("A座1502", "A座", "b-832fddf0b8"),
        ("3栋5层", "3栋", "b-75b51c74a4"),
        ("三号楼二单元五零二", "三号楼", "b-be4dc6804b"),
        ("3号502", "3号楼", "b-41cb581a03"),
    ],
)
def test_a_building_cell_down_to_the_flat_keeps_only_the_building(
    cell: str, name: str, building_id: str
) -> None:
    assert building(cell) == places.Building(building_id, name, trimmed=True)
    assert places.flat_in(cell) == "flat"


@pytest.mark.parametrize(
    "cell", ["3号楼", "3", "A座", "综合楼", "12#楼", "1号院3号楼", "A座3号楼", "北区5号楼"]
)
def test_building_names_stay_as_written(cell: str) -> None:
    found = building(cell)
    assert found is not None and not found.trimmed
    assert places.flat_in(cell) is None and places.flat_in("图强小区") is None


def test_no_building_from_a_phone_or_a_bare_room() -> None:
    assert building(f"3号楼 {PHONE}") is None and places.flat_in(f"3号楼 {PHONE}") == "phone"
    assert building(f"{FLAT} ①③⑧００１３８０００") is None  # any digit form
    assert building("北区502室") is None and places.flat_in("北区502室") == "flat"


def test_household_ledger_names_the_building_and_seals_the_flat() -> None:
    parsed = _households(
        f"图强小区,{FLAT},,502,王阿婆,,,独居",
        "图强小区,5号楼1单元301室,,301,陈叔,,图强小区5号楼1单元301室（东门进）,",
        "图强小区,A座,,1201,李伯,,,",
    )
    assert parsed.problems == []
    wang, chen, li = (h.household for h in parsed.households)
    compound = compound_id_for("siming", "图强小区")
    assert (wang.place.building_id, wang.place.building_name) == ("b-c9c6947a54", "3号楼")
    assert wang.household_id == household_id("502", compound, "b-c9c6947a54", None)  # as before
    assert wang.place.building_label() == "图强小区 3号楼"
    assert wang.address == FLAT  # the whole cell, sealed: 地址 was empty
    assert chen.place.building_label() == "图强小区 5号楼"
    assert chen.address == "图强小区5号楼1单元301室（东门进）"  # its own 地址, whole
    assert li.place.building_name == "A座" and li.address is None
    assert [(c.row, c.column) for c in parsed.cells] == [(2, "楼栋"), (3, "楼栋")]
    assert all("502" not in c.error and "301" not in c.error for c in parsed.cells)


def test_household_ledger_rejects_a_phone_in_the_building_or_the_flat_in_the_compound() -> None:
    parsed = _households(
        f"图强小区,3号楼 {PHONE},2,502,王阿婆,,,",
        f"图强小区{FLAT},3号楼,2,503,张婆,,,",
        "图强小区,502室,,504,李婆,,,",  # a room, no building
        "图强小区,3号楼,2,505,赵婆,,,",
    )
    assert [h.household.name for h in parsed.households] == ["赵婆"]
    by_row = {p.row: " ".join(p.errors) for p in parsed.problems}
    assert sorted(by_row) == [2, 3, 4]
    assert by_row[2].startswith("楼栋: ") and "电话" in by_row[2]
    assert by_row[3].startswith("小区: ") and by_row[4].startswith("楼栋: 楼栋只填楼号")
    assert not any(PHONE[:3] in e or "502" in e for e in by_row.values())


def test_helper_ledger_report_lists_the_building_not_the_flat() -> None:
    data = f"小区,姓名,电话,楼栋,户号\n图强小区,张三,13800000001,{FLAT},502\n".encode()
    parsed = parse_roster(data, WHERE)
    [(_, zhang)] = parsed.profiles
    assert (zhang.place.building_name, zhang.place.building_id) == ("3号楼", "b-c9c6947a54")
    assert parsed.compounds()[0].buildings == {"3号楼": "b-c9c6947a54"}
    assert [c.column for c in parsed.cells] == ["楼栋"]


@pytest.mark.parametrize("field", ["building_name", "compound_name"])
def test_place_names_with_a_flat_or_phone_are_refused(field: str) -> None:
    for value, kind in ((f"{FLAT} {PHONE}", "place_name_has_phone"), (FLAT, "place_name_has_flat")):
        with pytest.raises(ValidationError) as caught:
            PlaceIn.model_validate({"community_id": "siming", field: value})
        [error] = caught.value.errors(include_input=False, include_url=False)
        assert (error["type"], error["loc"]) == (kind, (field,))
    for fine in ("3号楼", "图强小区", "综合楼", "北区5号楼"):
        assert getattr(PlaceIn.model_validate({"community_id": "s", field: fine}), field) == fine


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(staff_token="s3cret")
    deps = ApiDeps(settings=settings, sink=RecordingSink(), _pool=AuditPool())
    # Nothing past the body check is served here (no PostgreSQL): a body let through is a 500.
    transport = httpx.ASGITransport(app=create_app(settings, deps), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_a_request_naming_the_flat_or_a_phone_as_its_building_is_trimmed_not_refused(
    client: httpx.AsyncClient,
) -> None:
    """A help request may be an emergency: a 422 would dispatch nobody and carry no call-now
    reply (the review of fb77ac9: "3号楼2单元" with "我爸没有呼吸了" was refused). Its names
    are cut to the building, as a ledger's 楼栋 cell is, or dropped when they hold a phone."""
    body = {
        "place": {"community_id": "siming", "compound_name": "图强小区", "building_name": ""},
        "category": "medical",
        "urgency": "critical",
        "life_threatening": True,
        "text": "我爸没有呼吸了",
    }
    for value, kept in (
        (FLAT, "3号楼"),
        ("3号楼2单元", "3号楼"),
        ("3号楼502", "3号楼"),
        (f"{FLAT} {PHONE}", None),
        ("3号楼", "3号楼"),
    ):
        sent = body | {"place": body["place"] | {"building_name": value}}
        assert HelpRequestIn.model_validate(sent).place.building_name == kept, value
        r = await client.post("/v1/requests", json=sent, headers={"Authorization": "Bearer s3cret"})
        # Past the body check (this harness has no PostgreSQL behind it: a 500 there).
        assert r.status_code != 422, r.text
    compound = body | {"place": body["place"] | {"compound_name": FLAT}}
    assert HelpRequestIn.model_validate(compound).place.compound_name is None
