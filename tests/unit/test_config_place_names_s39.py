"""Session 39 (privacy at the source, continued): the other ways a flat or a phone got into a
place's display name, which labels every request raised there in every offer and group
text. Each took any text up to 64 characters:

- a bot group's `compound_name` / `building_name` (a group configured with building_name
  "3号楼2单元502室" labelled every request from it so), and a community document's grids,
  compounds and buildings names: `config apply`, `set-bot`, the staff config API;
- a staff invite's `compound_name` (the staff API's InviteIn, `python -m dispatcher invite`);
- the join form's own 小区 field (its 楼栋 goes through `building()` already).

Now each is refused where it is written, naming the field, with PlaceIn's error types
(`place_name_has_flat` / `place_name_has_phone`), never quoting the value. A config record
stored before still loads (refusing it on read would drop the whole bot): the view logs
its fields.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.invites import invite_token, verify_invite
from dispatcher.config.changes import Changes, ConfigError
from dispatcher.config.view import ConfigView
from dispatcher.settings import Settings
from schemas.config import ConfigKind
from tests.support.config_records import old_record
from tests.support.in_process import api_client
from tests.unit.test_api_clock import RecordingSink

FLAT = "3号楼2单元502室"
PHONE = "13800138000"
BAD = [(FLAT, "place_name_has_flat"), (PHONE, "place_name_has_phone")]
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
STAFF = {"Authorization": "Bearer s3cret"}


def bot(**group: str) -> dict[str, Any]:
    place = {"community_id": "c1", "compound_name": "图强小区", "building_name": "3号楼"}
    return {"bot_id": "b1", "communities": ["c1"], "groups": {"grp": place | group}}


def community(building_name: str = "3号楼", **names: str) -> dict[str, Any]:
    compound = {"compound_id": "tq", "name": names.get("compound", "图强小区")}
    compound["buildings"] = [{"building_id": "b3", "name": building_name}]
    grid = {"grid_id": "g1", "name": names.get("grid", "第一网格"), "compounds": [compound]}
    return {"community_id": "c1", "display_name": "图强社区", "grids": [grid]}


def edits(view: ConfigView) -> Changes:
    return Changes(view=view, actor="li", now=NOW, production=False)


def refused(edit: Any, code: str, path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        edit()
    assert caught.value.code == code and path in str(caught.value), caught.value
    assert PHONE not in str(caught.value) and "502" not in str(caught.value)


@pytest.mark.parametrize(("name", "code"), BAD)
@pytest.mark.parametrize("field", ["building_name", "compound_name"])
def test_a_bot_group_named_with_a_flat_or_phone_is_refused_naming_the_field(
    name: str, code: str, field: str
) -> None:
    view = ConfigView()
    refused(lambda: edits(view).bot(bot(**{field: name})), code, f"bot/b1: groups.grp.{field}")
    refused(
        lambda: edits(view).document("c1", {**community(), "bots": [bot(**{field: name})]}),
        code,
        f"groups.grp.{field}",
    )
    good = edits(view)
    good.bot(bot())  # the control: names only
    assert [r.key for r in good.outcome.records] == ["bot/b1"]


@pytest.mark.parametrize(("name", "code"), BAD)
@pytest.mark.parametrize(
    ("doc", "path"),
    [
        (lambda n: community(building_name=n), "grids.0.compounds.0.buildings.0.name"),
        (lambda n: community(compound=n), "grids.0.compounds.0.name"),
        (lambda n: community(grid=n), "grids.0.name"),
    ],
)
def test_a_community_document_naming_a_flat_or_phone_is_refused_naming_the_path(
    name: str, code: str, doc: Any, path: str
) -> None:
    refused(lambda: edits(ConfigView()).document("c1", doc(name)), code, f"community/c1: {path}")
    good = edits(ConfigView())
    good.document("c1", community())
    assert [r.key for r in good.outcome.records] == ["community/c1"]


def test_a_stored_record_with_such_names_still_loads_and_its_fields_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refused on write, cut on read: the follower (API and worker) folds a record written
    before, so the bot keeps authenticating and its groups keep their place, their names cut
    as an edit cuts them (session 41: before, the flat labelled every request raised there)."""
    view = ConfigView()
    state = bot(building_name=FLAT, compound_name=PHONE)
    state["secrets"] = ["whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"]
    stored = [
        (ConfigKind.BOT, "b1", state),
        (ConfigKind.COMMUNITY, "c1", community(building_name=FLAT)),
    ]
    with caplog.at_level(logging.WARNING, logger="dispatcher.config.view"):
        for kind, entity_id, doc in stored:
            assert view.apply(old_record(kind, entity_id, doc))
    place = view.bots().group_place("b1", "grp")
    assert place is not None and (place.building_name, place.compound_name) == ("3号楼", None)
    c1 = view.community("c1")
    assert c1 is not None and c1.grids[0].compounds[0].buildings[0].name == "3号楼"
    raw = view.raw_state(ConfigKind.BOT, "b1")  # the record keeps them: the next edit reports
    assert raw is not None and raw["groups"]["grp"]["building_name"] == FLAT
    logged = caplog.text
    assert "groups.grp.building_name" in logged and "groups.grp.compound_name" in logged
    assert "grids.0.compounds.0.buildings.0.name" in logged
    assert PHONE not in logged and "502" not in logged


# ------------------------------------------------------------------ through the API
class SignUps:
    """PostgreSQL for these routes: the staff audit goes nowhere, a sign-up is kept."""

    def __init__(self) -> None:
        self.stored: list[tuple[Any, ...]] = []

    async def execute(self, *args: Any) -> str:
        return "INSERT 0 1"

    async def fetch(self, *args: Any) -> list[Any]:
        return []

    async def fetchval(self, *args: Any) -> str:
        self.stored.append(args)
        return "r-1"


@pytest.fixture
def settings() -> Settings:
    return Settings(staff_token="s3cret")


@pytest.fixture
def pool() -> SignUps:
    return SignUps()


@pytest.fixture
async def client(settings: Settings, pool: SignUps) -> AsyncIterator[httpx.AsyncClient]:
    deps = ApiDeps(settings=settings, sink=RecordingSink(), _pool=pool)  # type: ignore[arg-type]
    async with api_client(create_app(settings, deps)) as c:
        yield c


def reason(r: httpx.Response) -> tuple[str, str]:
    assert r.status_code == 422, r.text
    assert PHONE not in r.text and "502" not in r.text
    detail = r.json()["detail"]
    if isinstance(detail, list):  # a body's validation (FastAPI): type and field
        [error] = detail
        return error["type"], ".".join(map(str, error["loc"]))
    return detail["reason"], detail["message"]


@pytest.mark.parametrize(("name", "code"), BAD)
async def test_the_staff_config_api_refuses_them_with_placeins_types(
    client: httpx.AsyncClient, name: str, code: str
) -> None:
    r = await client.put("/v1/admin/config/bots/b1", json=bot(building_name=name), headers=STAFF)
    why, says = reason(r)
    assert why == code and "bot/b1: groups.grp.building_name" in says
    doc = community(building_name=name) | {"bots": [bot()]}
    why, says = reason(await client.put("/v1/admin/config/communities/c1", json=doc, headers=STAFF))
    assert why == code and "community/c1: grids.0.compounds.0.buildings.0.name" in says


@pytest.mark.parametrize(("name", "code"), BAD)
async def test_a_staff_invite_naming_a_flat_or_phone_is_a_422_naming_the_field(
    client: httpx.AsyncClient, settings: Settings, name: str, code: str
) -> None:
    path = "/v1/staff/communities/c1/invites"
    r = await client.post(path, json={"compound_id": "tq", "compound_name": name}, headers=STAFF)
    assert reason(r) == (code, "body.compound_name")
    with pytest.raises(ValueError, match=f"compound_name: {code}"):  # the invite command's
        invite_token(settings, community_id="c1", expires_at=NOW, compound_name=name)
    r = await client.post(path, json={"compound_name": "图强小区"}, headers=STAFF)
    assert r.status_code == 201, r.text
    token = r.json()["url"].rsplit("/", 1)[1]
    before = datetime.fromisoformat(r.json()["expires_at"]) - timedelta(minutes=1)
    assert verify_invite(settings, token, before).compound_name == "图强小区"


@pytest.mark.parametrize("compound", [f"图强小区{FLAT}", f"图强小区 {PHONE}"])
async def test_the_join_forms_own_compound_is_a_name_only(
    client: httpx.AsyncClient, settings: Settings, pool: SignUps, compound: str
) -> None:
    token = invite_token(
        settings, community_id="c1", expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    form = {"name": "张三", "phone": "13800000007", "building": "3号楼", "compound": compound}
    r = await client.post(f"/join/{token}", data=form)
    assert r.status_code == 422, r.text
    assert "小区只填小区名称" in r.text and PHONE not in r.text and "502" not in r.text
    assert pool.stored == []
    r = await client.post(f"/join/{token}", data=form | {"compound": "图强小区"})
    assert r.status_code == 200, r.text
    assert len(pool.stored) == 1
