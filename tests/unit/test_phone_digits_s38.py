"""A phone typed with full-width digits (a Chinese IME in full-width mode: "13８０００００１０２")
is the phone 13800000102 wherever a phone enters: the keyed digest every phone comparison
uses (`normalise_phone`), the helper ledger, the household ledger (电话 and 结对) and the
join form's check (`phone_text` + `PHONE`). Before, `\\d` and `str.isdigit` kept them as
they were: another helper id and digest for the same person. Digits of other scripts are
no mainland phone: `PHONE` refuses them."""

from __future__ import annotations

import pytest

from dispatcher.core.entry import normalise_phone
from dispatcher.roster.cells import PHONE, phone_text
from dispatcher.roster.households import paired_phone, paired_refs, parse_households
from dispatcher.roster.ledger import RosterPlace, parse_roster
from dispatcher.sealing import keyring
from dispatcher.settings import Settings

ASCII = "13800000102"
FULL_WIDTH = "13８０００００１０２"  # "13" in ASCII, the rest full-width: an IME switched midway
ALL_FULL = "１３８０００００１０２"


@pytest.mark.parametrize(
    "typed",
    [
        ASCII,
        FULL_WIDTH,
        ALL_FULL,
        "＋８６ １３８－００００－０１０２",
        "+86 138-0000-0102",
        "８６" + ASCII,
    ],
)
def test_every_way_of_writing_the_phone_has_one_digest(typed: str) -> None:
    assert normalise_phone(typed) == ASCII
    ring = keyring(Settings())
    assert ring.phone_key(typed) == ring.phone_key(ASCII)


def test_other_scripts_digits_read_as_their_value_in_the_digest() -> None:
    # Arabic-Indic digits: no form takes them now, but a phone stored before is its person's.
    assert normalise_phone("138٠٠٠٠٠١٠٢") == ASCII
    assert normalise_phone("²") == "2"  # str.isdigit takes it: its value, never itself
    assert normalise_phone("电话") is None


def test_an_ascii_phone_normalises_as_it_always_did() -> None:
    for phone in (ASCII, "0592-1234567", "+86 138 0000 0102", "138", "8613800000102"):
        old = "".join(ch for ch in phone if ch.isdigit())
        if old.startswith("86") and len(old) == 13:
            old = old[2:]
        assert normalise_phone(phone) == old


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        (FULL_WIDTH, ASCII),
        (ALL_FULL, ASCII),
        ("＋８６ １３８ ００００ ０１０２", ASCII),
        ("０５９２－１２３４５６７", "05921234567"),
        ("138\u30000000\u30000102", ASCII),  # ideographic spaces
    ],
)
def test_phone_text_makes_full_width_ascii(typed: str, text: str) -> None:
    assert phone_text(typed) == text
    assert PHONE.match(phone_text(typed))


@pytest.mark.parametrize("typed", ["138٠٠٠٠٠١٠٢", "13８000001０２x", "1380000010"])
def test_phone_is_ascii_digits_only(typed: str) -> None:
    assert not PHONE.match(phone_text(typed))


def test_the_helper_ledger_reads_a_full_width_phone_as_the_ascii_one() -> None:
    ledger = (
        "姓名,电话,小区,楼栋,技能\n"
        f"黄先生,{FULL_WIDTH},图强小区,3号楼,帮忙\n"
        "林先生,138٠٠٠٠٠١٠٣,图强小区,3号楼,帮忙\n"
    )
    parsed = parse_roster(ledger.encode(), RosterPlace("siming-s38"))
    assert [p.phone for _, p in parsed.profiles] == [ASCII]
    assert [p.row for p in parsed.problems] == [3]  # other scripts' digits: no phone
    ascii_one = parse_roster(ledger.replace(FULL_WIDTH, ASCII).encode(), RosterPlace("siming-s38"))
    assert parsed.profiles[0][1].helper_id == ascii_one.profiles[0][1].helper_id


def test_the_household_ledger_reads_full_width_phones_and_pairings() -> None:
    data = (
        "小区,楼栋,户号,户主,电话,结对志愿者\n"
        f"图强小区,3号楼,502,王阿婆,１３９１２３４５６７８,{FULL_WIDTH}\n"
        "图强小区,3号楼,503,钱阿姨,,１３８ ００１３ ８０００、Ｖ００１\n"
    ).encode()
    parsed = parse_households(data, RosterPlace("siming-s38"))
    assert [h.household.phone for h in parsed.households] == ["13912345678", None]
    assert [h.paired_refs for h in parsed.households] == [[ASCII], ["13800138000", "V001"]]
    assert parsed.cells == []


def test_paired_phone_and_refs_with_full_width_digits() -> None:
    assert paired_phone(FULL_WIDTH) == ASCII
    assert paired_phone("＋８６" + ALL_FULL) == ASCII
    assert paired_refs(f"{FULL_WIDTH}，V002") == ([ASCII, "V002"], [])
