"""Session 41: two defects in how place names label requests and offers.

1. A compound's name in lowercase ASCII ("tuqiang") was taken for an id and not shown:
   `compound_label` dropped any [a-z0-9_.:-] word, because the stored label
   (`PlacePath.building_label()`) put the compound's id where it had no name. And an id put
   there was shown when it read as a name ("tuqiang 综合楼", the community's id alone),
   while a named building after an id ("c1 综合楼") was lost (本小区). Now the label holds
   names only (an id is what the place marks as one), every name is shown whatever its
   script, and of labels stored earlier only the machine-made ids ("c1", "c-1a2b…") are
   taken for ids. Floors, doors, flats and phones are still never shown.
2. A place name stored with a flat, door or floor before the write-time checks (sessions
   39/40) labelled every request raised in its group until an edit cut it: the offer said
   "图强小区 综合楼五楼". Now it is cut where read, as on write (`config/names._cut`): the
   config view folds the bot with its names cut, and the label reader cuts a stored label.
"""

from __future__ import annotations

import re

import pytest

from dispatcher.api.chat_spec import place_for
from dispatcher.classify import classify
from dispatcher.config.secrets import new_secret
from dispatcher.config.view import ConfigView
from dispatcher.push.places import compound_label, place_label
from dispatcher.redact import fold_digits
from schemas.config import ConfigKind
from schemas.events import Event
from schemas.places import PlacePath
from schemas.vocab import Skill
from tests.support.config_records import old_record
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_push_deliveries import ROBOTS, planner, registry

# A floor, door, unit or flat in what every helper offered reads.
FRAGMENT = re.compile(r"[0-9零〇一二三四五六七八九十百两]+\s*[楼层号室户]|单元|[0-9]-[0-9]")


def _place(compound_name: str | None, building_name: str | None, **ids: str) -> PlacePath:
    return PlacePath(
        community_id=COMMUNITY,
        grid_id="g1",
        compound_id=ids.get("compound_id", "tuqiang"),
        compound_name=compound_name,
        building_id=ids.get("building_id", "3"),
        building_name=building_name,
    )


def _texts(w: World, events: list[Event]) -> list[str]:
    plan = planner(w, registry(*ROBOTS))
    return [d.message.text for e in events for d in plan.plan(e).deliveries]


def _offer_heads(place: PlacePath) -> set[str]:
    """The first line of each offer pushed for a request at `place`."""
    w = World()
    for n in (1, 2):
        w.helper(f"h{n}", compound="tuqiang", skills=[Skill.DRIVING], phone=f"1391234500{n}")
    w.submit("req-1", place=place)
    offers = w.offer_events()
    assert offers
    return {t.splitlines()[0] for t in _texts(w, offers)}


@pytest.mark.parametrize(
    ("compound_name", "building_name", "shown"),
    [
        ("tuqiang", "3号楼", "tuqiang 3号楼"),  # was "3号楼": the name taken for an id
        ("sunshine-garden", "3号楼", "sunshine-garden 3号楼"),
        ("tuqiang", None, "tuqiang"),
        ("sunshine garden", None, "sunshine garden"),
        (None, "综合楼", "综合楼"),  # was "tuqiang 综合楼": the compound's id shown
        (None, None, "本小区"),
    ],
)
def test_a_name_is_shown_whatever_its_script_and_an_id_never(
    compound_name: str | None, building_name: str | None, shown: str
) -> None:
    place = _place(compound_name, building_name, building_id="b3")
    assert _offer_heads(place) == {f"【危急】{shown} 送医"}
    assert place_label(compound_name, building_name) == shown


def test_the_label_holds_names_only() -> None:
    assert _place("tuqiang", "3号楼").building_label() == "tuqiang 3号楼"
    assert _place(None, "综合楼", compound_id="c1").building_label() == "综合楼"
    assert _place(None, None, compound_id="c1", building_id="b3").building_label() == ""
    # A place known only by its community: was labelled with the community's id, shown.
    only_community = PlacePath(community_id=COMMUNITY).building_label()
    assert place_label(None, only_community) == "本小区"


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("c1 3号楼", "3号楼"),
        ("c-1a2b3c4d5e 3号楼", "3号楼"),
        ("c1 综合楼", "综合楼"),  # was 本小区: the named building lost behind the id
        ("c-1a2b3c4d5e 综合楼", "综合楼"),
        ("c1 b3", "本小区"),
        ("图强小区 b3", "图强小区"),
        ("tuqiang b3", "tuqiang"),
    ],
)
def test_labels_stored_with_machine_made_ids_show_no_id(label: str, shown: str) -> None:
    assert place_label(None, label) == shown


@pytest.mark.parametrize(
    "compound_name",
    [
        "tuqiang 3楼",
        "tuqiang 7号",
        "tuqiang 5-2",
        "tuqiang 502",
        "sunshine garden 2单元",
        "sunshine garden B2",
        "tuqiang 13912345678",
        "tuqiang c1",
    ],
)
def test_an_ascii_name_still_loses_every_fragment(compound_name: str) -> None:
    shown = place_label(None, _place(compound_name, "3号楼").building_label())
    assert shown in ("tuqiang 3号楼", "sunshine garden 3号楼", "3号楼"), shown
    assert not re.search("[0-9]", compound_label(compound_name))


# Names stored before the checks: each holds a floor, door or flat `place_label` showed.
STORED_BAD = ["综合楼五楼", "综合楼 五楼", "综合楼十二号", "综合楼 十二号"]


@pytest.mark.parametrize("building_name", STORED_BAD)
def test_a_stored_bad_name_in_a_label_is_cut_on_read(building_name: str) -> None:
    label = _place("图强小区", building_name).building_label()
    assert place_label(None, label) == "图强小区 综合楼"
    assert place_label("图强小区", building_name) == "图强小区 综合楼"


def _stored_bot(building_name: str) -> ConfigView:
    """A bot written before the place checks, folded as every process's follower folds it."""
    group = {
        "community_id": COMMUNITY,
        "grid_id": "g1",
        "compound_id": "tuqiang",
        "compound_name": "图强小区",
        "building_id": "3",
        "building_name": building_name,
    }
    state = {"bot_id": "b1", "secrets": [new_secret()], "communities": [COMMUNITY]}
    view = ConfigView()
    kind = ConfigKind.BOT
    assert view.apply(old_record(kind, "b1", state | {"groups": {"grp": group}}, (COMMUNITY,)))
    return view


@pytest.mark.parametrize("building_name", STORED_BAD)
def test_a_stored_bad_name_in_the_config_labels_no_request_with_its_fragment(
    building_name: str,
) -> None:
    view = _stored_bot(building_name)
    group = view.bots().group_place("b1", "grp")
    assert group is not None
    place = place_for(group, classify("有老人摔倒了，需要送医"))
    label = place.building_label()
    assert label == "图强小区 综合楼"  # the request's stored label carries no fragment
    heads = _offer_heads(place)
    assert heads == {"【危急】图强小区 综合楼 送医"}, heads
    for text in (label, *heads):
        assert not FRAGMENT.search(fold_digits(text)), text
    # The record keeps what was stored: the next edit cuts and reports it (`names_cut`).
    raw = view.raw_state(ConfigKind.BOT, "b1")
    assert raw is not None and raw["groups"]["grp"]["building_name"] == building_name
