"""Session 40: an offer names the compound as well as the building ("阳光花园 3号楼").

A community (社区) usually holds several compounds (小区), each with its own 3号楼. The
request's label carries both (`PlacePath.building_label()`: "阳光花园 3号楼"), but every
push and offer page read it through `place_label(None, label)`, which kept only the
"N号楼" token: two requests in two compounds' 3号楼 were both offered as "3号楼", and a
helper could go to the wrong building. Now the compound's name comes first; the flat never
does, even from a stored compound name that holds one (names are checked where written,
b2a5cb1; these are read again where shown).
"""

from __future__ import annotations

import re

import pytest

from dispatcher.push.channels.wecom import TEXT_MAX_BYTES
from dispatcher.push.places import MAX_LABEL_CHARS, compound_label, place_label
from dispatcher.redact import fold_digits
from schemas.commands import CancelRequest
from schemas.events import Event
from schemas.places import PlacePath
from schemas.vocab import Party, Skill
from tests.support.offer_facts import offer_page_facts
from tests.unit.conftest import COMMUNITY, World
from tests.unit.test_push_deliveries import ROBOTS, planner, registry

# Two compounds of one community, each with its 3号楼.
COMPOUNDS = {"yangguang": "阳光花园", "xingfu": "幸福里"}
# A room or a phone, in any digit form once folded; a unit, floor or room word.
NUMBER = re.compile("[0-9零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖]{3,}")
FLAT_WORDS = re.compile("单元|室|层|户")


def _place(compound_id: str, compound_name: str, household: str) -> PlacePath:
    return PlacePath(
        community_id=COMMUNITY,
        grid_id="g1",
        compound_id=compound_id,
        compound_name=compound_name,
        building_id="3",
        building_name="3号楼",
        unit="2",
        floor=5,
        household_id=household,
    )


def _page(label: str) -> str:
    """The offer link's page facts (every helper offered, and link previews, see them)."""
    return offer_page_facts(label, urgency="critical")


def _texts(w: World, events: list[Event]) -> list[str]:
    plan = planner(w, registry(*ROBOTS))
    return [d.message.text for e in events for d in plan.plan(e).deliveries]


def _two_compounds() -> World:
    """Two helpers in each compound's 3号楼; a request from each 3号楼."""
    w = World()
    for cid in COMPOUNDS:
        for n in (1, 2):
            w.helper(f"{cid}-{n}", compound=cid, skills=[Skill.DRIVING], phone=f"1391234500{n}")
    for cid, name in COMPOUNDS.items():
        w.submit(f"req-{cid}", place=_place(cid, name, f"hh-{cid}"))
    return w


def test_two_compounds_3号楼_offers_are_told_apart() -> None:
    w = _two_compounds()
    heads: dict[str, set[str]] = {}
    for cid in COMPOUNDS:
        offers = [e for e in w.offer_events() if e.request_id == f"req-{cid}"]
        assert offers
        heads[cid] = {t.splitlines()[0] for t in _texts(w, offers)}
        assert "3号楼" in w.request(f"req-{cid}").spec.place.building_label()
    assert heads["yangguang"] == {"【危急】阳光花园 3号楼 送医"}
    assert heads["xingfu"] == {"【危急】幸福里 3号楼 送医"}
    # The offer's page says what its push says.
    for cid, name in COMPOUNDS.items():
        label = w.request(f"req-{cid}").spec.place.building_label()
        assert f"<dd>{name} 3号楼</dd>" in _page(label)


def test_stand_downs_and_cancellations_name_the_compound_too() -> None:
    w = _two_compounds()
    w.accept(w.offered()[0], "req-yangguang")
    stood = [e for e in w.events if e.body.type in ("offer_stood_down", "offers_stood_down")]
    w.run(CancelRequest(request_id="req-xingfu", by=Party.REQUESTER))
    cancelled = [
        e
        for e in w.events
        if e.body.type in ("offer_stood_down", "offers_stood_down") and e.request_id == "req-xingfu"
    ]
    assert stood and cancelled
    stand_downs = _texts(w, [e for e in stood if e.request_id == "req-yangguang"])
    assert stand_downs and all("阳光花园 3号楼 送医" in t for t in stand_downs), stand_downs
    cancels = _texts(w, cancelled)
    assert cancels and all("求助已取消：幸福里 3号楼 送医" in t for t in cancels), cancels


@pytest.mark.parametrize(
    "bad",
    [
        "阳光花园3-2-502",
        "阳光花园502室",
        "阳光花园2单元",
        "阳光花园5层",
        "阳光花园502",
        "阳光花园五零二",
        "阳光花园伍零贰",
        "阳光花园 13912345678",
        "阳光花园 139-1234-5678",
        "阳光花园壹叁玖壹贰叁肆伍陆柒捌",
        "阳光花园 ①③⑨①②③④⑤⑥⑦⑧",
        "阳光花园1号楼2单元502",
        "c-1a2b3c4d5e",  # no name: the compound's id, never shown
        "c1",
    ],
)
def test_a_bad_stored_compound_name_never_brings_the_flat(bad: str) -> None:
    # Written before the write-time check, or by a path that skipped it: stored as is.
    label = _place("yangguang", bad, "hh-x").building_label()
    assert label == f"{bad} 3号楼"
    shown = place_label(None, label)
    assert shown == "3号楼", shown  # the building still; nothing of the bad name
    assert compound_label(bad) == ""
    page = _page(label)
    for text in (shown, page):
        assert not NUMBER.search(fold_digits(text)) and not FLAT_WORDS.search(text), text


def test_a_compound_with_a_short_number_in_its_name_is_kept() -> None:
    assert place_label(None, "万科城2期 A座") == "万科城2期 A座"
    assert place_label(None, "图强小区 b3") == "图强小区"  # the building by id: the compound


def test_the_longest_compound_keeps_an_offer_within_the_push_limits() -> None:
    name = "阳" * MAX_LABEL_CHARS
    w = World()
    w.helper("h", compound="yangguang", skills=[Skill.DRIVING], phone="13912345001")
    w.submit(place=_place("yangguang", name, "hh-x"))
    [text] = _texts(w, w.offer_events())
    assert text.startswith(f"【危急】{name} 3号楼 送医")
    assert len(text.encode()) < TEXT_MAX_BYTES // 2, len(text.encode())
    assert compound_label(name + "阳") == ""  # longer: dropped, the building stays
