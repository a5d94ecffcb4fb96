"""Session 40: the place checks of b2a5cb1 (a flat or phone in a name shown to every helper
and group is refused where written) had three gaps in the configuration:

1. The bots file (`DISPATCH_BOTS_FILE`: the dev layer, the production seed, the start-up
   check) was loaded with no such check: a group's building_name "3号楼2单元502室" labelled
   every request raised there. Now the process that loads it stops, naming the bot and the
   field (never the value).
2. A bot (or community) stored with such a name before the checks refused every later edit,
   its key rotation included: an operator could not rotate a leaked key. Now an edit that
   keeps a stored name as it was goes through and cuts it (a building's name to its
   building, as a help request's: "3号楼"; any other dropped), reported in `names_cut`; a
   new or changed bad name is still refused.
3. A group's `building_id` (and its `buildings` map's ids) took anything: a name, a flat, a
   phone (shown where the group has no building name), an id outside any compound, or one
   its community's document does not list. Now each is refused with its reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.config.bootstrap import (
    bootstrap_config,
    build_view,
    environment_problems,
    seed_records,
)
from dispatcher.config.changes import Changes, ConfigError
from dispatcher.config.secrets import new_secret
from dispatcher.config.view import ConfigView
from dispatcher.groupchat.bots import BotConfig
from dispatcher.settings import Settings
from schemas.config import ConfigKind
from tests.support.config_records import old_record
from tests.support.in_process import api_client
from tests.unit.test_api_clock import AuditPool, RecordingSink

FLAT = "3号楼2单元502室"
PHONE = "13800138000"
BAD = [(FLAT, "place_name_has_flat"), (PHONE, "place_name_has_phone")]
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
SECRET = new_secret()


def bot(**group: Any) -> dict[str, Any]:
    place = {"community_id": "c1", "compound_id": "tq", "compound_name": "图强小区"}
    return {
        "bot_id": "b1",
        "secrets": [SECRET],
        "communities": ["c1"],
        "groups": {"grp": place | group},
    }


def community(*building_ids: str, building_name: str = "3号楼") -> dict[str, Any]:
    buildings = [{"building_id": b, "name": building_name} for b in building_ids]
    compound = {"compound_id": "tq", "name": "图强小区", "buildings": buildings}
    grid = {"grid_id": "g1", "name": "第一网格", "compounds": [compound]}
    return {"community_id": "c1", "display_name": "图强社区", "grids": [grid]}


def clean(text: str) -> None:
    assert PHONE not in text and "502" not in text, text


def stored(view: ConfigView, kind: ConfigKind, state: dict[str, Any]) -> None:
    """A record written before these checks, folded as the follower folds it."""
    assert view.apply(old_record(kind, state.get("bot_id") or state["community_id"], state))


def edits(view: ConfigView) -> Changes:
    return Changes(view=view, actor="li", now=NOW, production=False)


# ------------------------------------------------------------------ 1. the bots file
def bots_file(tmp_path: Path, *bots: dict[str, Any]) -> Path:
    path = tmp_path / "bots.json"
    path.write_text(json.dumps({"bots": list(bots)}, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "code"), BAD)
@pytest.mark.parametrize("field", ["building_name", "compound_name"])
def test_a_bots_file_group_named_with_a_flat_or_phone_stops_the_process_naming_bot_and_field(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, code: str, field: str
) -> None:
    path = bots_file(tmp_path, bot(**{field: name}))
    where = f"DISPATCH_BOTS_FILE[b1].groups.grp.{field} {code}"
    dev = Settings(mode="dev", bots_file=path)
    with caplog.at_level(logging.DEBUG):
        for load in (lambda: bootstrap_config(dev), lambda: build_view(dev)):  # the dev layer
            with pytest.raises(ConfigError) as caught:
                load()
            assert caught.value.code == code and where in str(caught.value)
            assert "a place's name only" in str(caught.value)
            clean(str(caught.value))
        # Production: the start-up check (secret_policy.enforce) names it with the secrets'.
        problems = environment_problems(Settings(bots_file=path))
        assert [p for p in problems if where in p], problems
        clean(" ".join(problems))
        # The seed of an empty store, as the API calls it with the file's bots.
        seeded = [BotConfig.model_validate(bot(**{field: name}))]
        with pytest.raises(ConfigError) as caught:
            seed_records(ConfigView(), seeded, [], NOW)
        assert caught.value.code == code and f"[b1].groups.grp.{field}" in str(caught.value)
    clean(caplog.text)
    # The control: the same file with names only loads.
    good = bots_file(tmp_path, bot(building_name="3号楼"))
    assert [b.bot_id for b in bootstrap_config(Settings(mode="dev", bots_file=good))[0]] == ["b1"]
    assert environment_problems(Settings(bots_file=good)) == []


def test_the_dev_bots_and_their_demo_groups_pass_the_same_checks() -> None:
    bots, _ = bootstrap_config(Settings(mode="dev", bots_file=None))
    assert {"dev-bot", "dev-wecom"} <= {b.bot_id for b in bots}


def test_a_bots_file_building_id_that_is_no_id_stops_the_process(tmp_path: Path) -> None:
    path = bots_file(tmp_path, bot(building_id=PHONE))
    with pytest.raises(ConfigError) as caught:
        build_view(Settings(mode="dev", bots_file=path))
    assert caught.value.code == "invalid_building_id"
    assert "DISPATCH_BOTS_FILE[b1].groups.grp.building_id" in str(caught.value)
    clean(str(caught.value))
    # Seeding checks it against the store's community document (loaded by then).
    view = ConfigView()
    stored(view, ConfigKind.COMMUNITY, community("b3", "b4"))
    seeded = [BotConfig.model_validate(bot(building_id="b9"))]
    with pytest.raises(ConfigError) as caught:
        seed_records(view, seeded, [], NOW)
    assert caught.value.code == "unknown_building" and "b3, b4" in str(caught.value)
    assert seed_records(view, [BotConfig.model_validate(bot(building_id="b3"))], [], NOW)


# ------------------------------------------------------------------ 2. stored bad names
@pytest.mark.parametrize(("name", "code"), BAD)
def test_a_bot_stored_with_a_bad_name_still_takes_a_rotation_and_other_edits_which_cut_it(
    caplog: pytest.LogCaptureFixture, name: str, code: str
) -> None:
    view = ConfigView()
    stored(view, ConfigKind.BOT, bot(building_name=name, compound_name=f"图强小区{name}"))
    paths = ["groups.grp.compound_name", "groups.grp.building_name"]
    cut = "3号楼" if name == FLAT else None  # a building's name cut to its building
    with caplog.at_level(logging.DEBUG):
        rotation = edits(view)
        rotation.rotate_bot("b1", None)  # was ConfigError place_name_has_…: key stuck
        [record] = rotation.outcome.records
        assert record.state is not None and len(record.state["secrets"]) == 2
        group = record.state["groups"]["grp"]
        assert group.get("building_name") == cut and "compound_name" not in group
        assert rotation.outcome.summary()["names_cut"] == {"bot/b1": paths}
        clean(json.dumps(rotation.outcome.summary(), ensure_ascii=False))

        other = edits(view)  # another field, the stored names resent as they were
        other.bot(bot(building_name=name, compound_name=f"图强小区{name}") | {"burst": 5})
        [record] = other.outcome.records
        assert record.state is not None and record.state["burst"] == 5
        assert record.state["groups"]["grp"].get("building_name") == cut
        assert other.outcome.names_cut == {"bot/b1": paths}

        # A bad name the edit brings (changed, or in another group) is still refused.
        for doc in (
            bot(building_name=f"5号楼{name}", compound_name=f"图强小区{name}"),
            bot(building_name=name, compound_name=f"图强小区{name}")
            | {"groups": {"grp2": bot(building_name=name)["groups"]["grp"]}},
        ):
            with pytest.raises(ConfigError) as caught:
                edits(view).bot(doc)
            assert caught.value.code == code
            clean(str(caught.value))
    clean(caplog.text)
    assert "groups.grp.building_name" in caplog.text  # the fields are logged, not the names


def test_a_community_stored_with_a_bad_name_takes_an_edit_that_cuts_it() -> None:
    view = ConfigView()
    stored(view, ConfigKind.COMMUNITY, community("b3", building_name=FLAT))
    change = edits(view)
    change.document("c1", community("b3", building_name=FLAT) | {"display_name": "新图强社区"})
    [record] = change.outcome.records
    assert record.state is not None and record.state["display_name"] == "新图强社区"
    assert record.state["grids"][0]["compounds"][0]["buildings"][0]["name"] == "3号楼"
    assert change.outcome.names_cut == {"community/c1": ["grids.0.compounds.0.buildings.0.name"]}


# ------------------------------------------------------------------ 3. building ids
@pytest.mark.parametrize(
    ("group", "code"),
    [
        ({"building_id": "3号楼"}, "invalid_building_id"),  # a name, not an id
        ({"building_id": PHONE}, "invalid_building_id"),
        ({"building_id": "3-2-502"}, "invalid_building_id"),  # a flat
        ({"buildings": {"3": "13800138000"}}, "invalid_building_id"),
        ({"building_id": "b3", "compound_id": None}, "building_without_compound"),
        ({"building_id": "b9"}, "unknown_building"),  # not in compound tq's list
        ({"buildings": {"9": "b9"}}, "unknown_building"),
    ],
)
def test_a_group_building_id_that_references_no_building_is_refused(
    group: dict[str, Any], code: str
) -> None:
    view = ConfigView()
    stored(view, ConfigKind.COMMUNITY, community("b3", "b4"))
    with pytest.raises(ConfigError) as caught:
        edits(view).bot(bot(**group))
    assert caught.value.code == code and "bot/b1: groups.grp.building" in str(caught.value)
    clean(str(caught.value))
    # In one document with its community, checked against that document's list.
    with pytest.raises(ConfigError) as caught:
        edits(ConfigView()).document("c1", community("b3", "b4") | {"bots": [bot(**group)]})
    assert caught.value.code == code


def test_known_building_ids_and_unlisted_compounds_are_taken() -> None:
    view = ConfigView()
    stored(view, ConfigKind.COMMUNITY, community("b3", "b4"))
    for group in (
        {"building_id": "b3"},
        {"buildings": {"4": "b4"}},
        {"building_id": "b9", "compound_id": "elsewhere"},  # a compound its doc does not list
    ):
        change = edits(view)
        change.bot(bot(**group))
        assert [r.key for r in change.outcome.records] == ["bot/b1"], group
    change = edits(ConfigView())  # no community document at all: the id's form only
    change.bot(bot(building_id="b9"))
    assert change.outcome.records


def test_a_bot_stored_with_an_unknown_building_id_still_takes_a_rotation() -> None:
    view = ConfigView()
    stored(view, ConfigKind.COMMUNITY, community("b3"))
    stored(view, ConfigKind.BOT, bot(building_id="b9"))
    rotation = edits(view)
    rotation.rotate_bot("b1", None)
    assert [r.key for r in rotation.outcome.records] == ["bot/b1"]


# ------------------------------------------------------------------ through the staff API
STAFF = {"Authorization": "Bearer s3cret"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(staff_token="s3cret")
    deps = ApiDeps(settings=settings, sink=RecordingSink(), _pool=AuditPool())
    async with api_client(create_app(settings, deps)) as c:
        yield c


async def test_the_staff_api_answers_a_bad_building_id_with_a_422_and_its_reason(
    client: httpx.AsyncClient,
) -> None:
    r = await client.put("/v1/admin/config/bots/b1", json=bot(building_id=PHONE), headers=STAFF)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["reason"] == "invalid_building_id"
    assert "groups.grp.building_id" in r.json()["detail"]["message"]
    clean(r.text)
    doc = community("b3") | {"bots": [bot(building_id="b9")]}
    r = await client.put("/v1/admin/config/communities/c1", json=doc, headers=STAFF)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["reason"] == "unknown_building"
    assert "no building 'b9' in compound 'tq'" in r.json()["detail"]["message"]
