"""Review 30, finding 1 (the ids): a household cell written as an id ("A101", "hh-wang") was
kept as it is, so two compounds' "A101" were one household and the second ledger took over
the first's card. Every household id is now its compound's ("hh-<compound>-…"); both
ledgers derive it alike, so a helper ledger's 结对 still names the household ledger's
household."""

from __future__ import annotations

import pytest

from dispatcher.roster.households import parse_households
from dispatcher.roster.ledger import RosterPlace, parse_roster
from dispatcher.roster.places import household_id

COMMUNITY = RosterPlace("siming")


@pytest.mark.parametrize(
    ("cell", "compound", "expected"),
    [
        ("A101", "ca", "hh-ca-A101"),
        ("A101", "cb", "hh-cb-A101"),
        ("hh-wang", "ca", "hh-ca-hh-wang"),
        ("hh-ca-A101", "ca", "hh-ca-A101"),  # already the compound's, as a report prints it
        ("hh-ca-A101", "cb", "hh-cb-hh-ca-A101"),  # another compound's: not taken over
        ("502", "ca", "hh-ca-b3-2-502"),  # rooms as before
    ],
)
def test_a_household_id_is_its_compounds(cell: str, compound: str, expected: str) -> None:
    assert household_id(cell, compound, "b3", "2") == expected


def test_a_long_id_becomes_a_digest_unique_per_compound() -> None:
    cell = "x" * 62
    ca, cb = household_id(cell, "ca", None, None), household_id(cell, "cb", None, None)
    assert ca is not None and cb is not None and ca != cb
    assert len(ca) <= 64 and ca.startswith("hh-")


def test_two_compounds_same_door_are_two_households_in_one_ledger() -> None:
    ledger = (
        "小区编号,小区,楼栋,户号,户主,标签\n"
        "ca,甲小区,1号楼,A101,张奶奶,独居\n"
        "cb,乙小区,7号楼,A101,赵先生,\n"
    )
    parsed = parse_households(ledger.encode(), COMMUNITY)
    assert not parsed.problems  # once both were "A101": the second a duplicate row
    ids = [h.household.household_id for h in parsed.households]
    assert ids == ["hh-ca-A101", "hh-cb-A101"]
    assert [h.household.place.household_id for h in parsed.households] == ids


def test_the_helper_ledgers_pairing_names_the_same_household() -> None:
    helpers = (
        "小区编号,小区,姓名,电话,楼栋,户号,结对\nca,甲小区,林阿姨,13800000101,1号楼,A102,A101\n"
    )
    ((_, lin),) = parse_roster(helpers.encode(), COMMUNITY).profiles
    assert lin.paired_household_ids == ("hh-ca-A101",)
    assert lin.place.household_id == "hh-ca-A102"
