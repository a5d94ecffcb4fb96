"""Session 39 (audit: inject/privacy): an unaccepted offer names its place as its push does.

The request's stored label is `PlacePath.building_label()`: compound and building names as
given. A household ledger's 楼栋 cell holding the whole address ("3号楼2单元502室",
roster/places.py keeps it as the building's name) or a bot's free-text building_name put
the flat there. The push filtered it (push/places.py: "3号楼"), but the offer's page - every
helper offered opens it, and a chat app's link preview fetches it - printed it raw. And the
filter let numbers in financial numerals (壹叁捌…) or other digit forms (①③⑧…) through.
"""

from __future__ import annotations

import re

import pytest

from dispatcher.push.messages import offer_message
from dispatcher.push.places import building_label, compound_label, place_label
from dispatcher.redact import fold_digits
from schemas.places import PlacePath
from schemas.vocab import Category, Urgency
from tests.support.offer_facts import offer_page_facts

FLAT = "3号楼2单元502室"
# Three digits in a row (a room, part of a phone), in any form, once folded.
NUMBER = re.compile("[0-9零〇一二三四五六七八九幺两壹贰貳叁參肆伍陆陸柒捌玖]{3,}")


def _label(compound: str | None, building: str | None) -> str:
    """What the request's events and row carry (core/request_commands.py)."""
    return PlacePath(
        community_id="c", compound_name=compound, building_id="b3", building_name=building
    ).building_label()


def _push(label: str) -> str:
    """The push's headline: 【urgency】place category."""
    return offer_message(
        category=Category.HOSPITAL_TRANSPORT,
        urgency=Urgency.URGENT,
        compound=None,  # as push/deliveries.py sends an offer
        building=label,
        helpers_needed=1,
        skills=(),
        team=None,
        reply_within_minutes=5,
        accept_url="https://x.example/a",
        decline_url="https://x.example/d",
        answer_url=None,
    ).text.splitlines()[0]


def _page(label: str) -> str:
    return offer_page_facts(label)


def test_the_offer_page_shows_the_place_the_push_shows_not_the_flat() -> None:
    label = _label("图强小区", FLAT)
    assert label == "图强小区 3号楼2单元502室"  # stored as given
    page = _page(label)
    assert "502" not in page and "单元" not in page, page
    assert "图强小区 3号楼" in page and place_label(None, label) == "图强小区 3号楼"
    assert _push(label) == "【紧急】图强小区 3号楼 送医"


@pytest.mark.parametrize(
    ("compound", "building"),
    [
        ("图强小区 壹叁捌零零壹叁捌零零零", None),  # a phone in financial numerals
        ("图强小区", "壹叁捌零零壹叁捌零零零"),
        ("图强小区 ①③⑧⓪⓪①③⑧⓪⓪⓪", None),  # circled digits
        ("图强小区 𝟏𝟑𝟖𝟎𝟎𝟏𝟑𝟖𝟎𝟎𝟎", None),  # mathematical bold digits
        ("图强小区 ١٣٨٠٠١٣٨٠٠٠", None),  # Arabic-Indic digits
        ("图强小区", "1️⃣3️⃣8️⃣0️⃣0️⃣"),  # keycaps
        ("图强小区 一三八 零零 一三八 零零零", None),  # a phone read aloud, split
        ("图强小区", "叁号楼伍零贰"),  # a flat in financial numerals, no N号楼 token
        ("图强小区", "伍零贰"),
    ],
)
def test_no_number_in_any_digit_form_reaches_the_push_or_the_page(
    compound: str, building: str | None
) -> None:
    label = _label(compound, building)
    place = place_label(None, label)
    assert place in _push(label) and f"<dd>{place}</dd>" in _page(label)
    for shown in (place, _push(label), _page(label)):
        assert not NUMBER.search(fold_digits(shown)), shown
    assert not NUMBER.search(fold_digits(compound_label(compound)))
    assert not NUMBER.search(fold_digits(building_label(building)))


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("图强小区 3号楼", "图强小区 3号楼"),  # the compound too since session 40
        ("图强小区 综合楼", "图强小区 综合楼"),
        ("图强小区 十二栋", "图强小区 十二栋"),
        ("c", "c"),  # no compound or building: the community id
    ],
)
def test_what_the_page_keeps(label: str, shown: str) -> None:
    assert place_label(None, label) == shown
    assert f"<dd>{shown}</dd>" in _page(label)
