"""The rest of finding 7 (dispatcher/sealing.py): a helper's name and platform user id, and
the place below the building (unit, floor, household), travel sealed or keyed; they open
only where they are shown, and the core still pairs households and names opted-in helpers."""

from __future__ import annotations

from dispatcher.sealing import (
    KeyRing,
    group_name,
    helper_detail,
    helper_name,
    open_assignment,
    open_sealed,
    seal_command,
    seal_pairing,
    seal_profile,
    seal_spec,
    unsealed_profile,
)
from schemas.commands import Command, PairHousehold, SubmitRequest, UpsertHelper
from schemas.events import HelperAssigned
from schemas.helpers import HelperProfile
from schemas.requests import RequesterContact, RequestPrivate
from schemas.vocab import Skill
from streams.state_store import WorkerState, encode_record
from tests.unit.conftest import World, place

KEYS = KeyRing("contact-key-" + "c" * 32, [], "helper-id-key-" + "i" * 32)
NAME = "王秀兰"
USER = "wx-userid-wangxl"
HOUSEHOLD = "hh-wang-family"
UNIT = "二单元"


def named(world: World, helper_id: str, **kw: object) -> HelperProfile:
    profile = world.helper(helper_id, skills=[Skill.DRIVING]).model_copy(
        update={"name": NAME, "platform_user_id": USER, **kw}
    )
    return profile.model_copy(update={"place": profile.place.model_copy(update={"unit": UNIT})})


def test_a_helper_name_platform_id_and_home_travel_sealed(world: World) -> None:
    plain = named(world, "h1", paired_household_ids=(HOUSEHOLD,))
    sealed = seal_profile(KEYS, plain)
    wire = UpsertHelper(profile=sealed).model_dump_json()
    for secret in (NAME, USER, HOUSEHOLD, "hh-h1", UNIT):
        assert secret not in wire, secret
    assert sealed.place.floor is None and sealed.place.building_id == plain.place.building_id
    assert seal_profile(KEYS, sealed) is sealed  # sealing twice changes nothing
    # Opened where shown: the helper's own messages and links.
    assert helper_name(KEYS, sealed) == NAME
    detail = helper_detail(KEYS, sealed)
    assert (detail.platform_user_id, detail.unit, detail.floor) == (USER, UNIT, 5)
    back = unsealed_profile(KEYS, sealed)
    assert (back.name, back.platform_user_id, back.place.unit) == (NAME, USER, UNIT)
    # Each box is bound to its helper: moved to another, it opens nothing.
    moved = sealed.model_copy(update={"helper_id": "h2"})
    assert helper_name(KEYS, moved) == "" and helper_detail(KEYS, moved).platform_user_id is None
    other = KeyRing("another-key-" + "x" * 32, [], "helper-id-key-" + "i" * 32)
    assert helper_name(other, sealed) == ""


def test_a_request_unit_floor_and_household_travel_sealed_or_keyed(world: World) -> None:
    spec = world.spec(place=place(household=HOUSEHOLD), requester_household_id=HOUSEHOLD)
    sealed = seal_spec(KEYS, spec)
    wire = SubmitRequest(spec=sealed).model_dump_json()
    assert HOUSEHOLD not in wire and '"unit"' not in wire.replace('"unit":null', "")
    assert sealed.place.unit is None and sealed.place.floor is None
    assert sealed.place.household_id == sealed.requester_household_id
    assert sealed.place.building_key() == spec.place.building_key()  # still routed on
    assert sealed.sealed is not None
    opened = open_sealed(KEYS, spec.request_id, sealed.sealed)
    assert (opened.unit, opened.floor) == ("2", 5)
    assert seal_spec(KEYS, sealed) is sealed


def test_a_box_sealed_before_the_place_was_takes_the_unit_in(world: World) -> None:
    """Session 4's API sealed the contact but left unit and floor on the place: on decode
    they move into the box (re-sealed), and the assignment still shows them."""
    spec = world.spec()
    private = RequestPrivate(contact=spec.contact, text=spec.text)
    box = KEYS.seal(private.model_dump_json().encode(), f"request\n{spec.request_id}".encode())
    old = spec.model_copy(update={"contact": RequesterContact(), "text": "", "sealed": box})
    assert old.place.unit == "2"
    command = seal_command(KEYS, world.command(SubmitRequest(spec=old)))
    assert isinstance(command.body, SubmitRequest)
    now = command.body.spec
    assert now.place.unit is None and now.place.floor is None and now.sealed is not None
    opened = open_sealed(KEYS, now.request_id, now.sealed)
    assert (opened.contact.phone, opened.unit, opened.floor) == ("13800000000", "2", 5)


def test_pairing_matches_through_keyed_households(world: World) -> None:
    """结对 compares household ids: keyed alike on the helper, the pairing command and the
    request, the paired helper is still asked first."""
    for hid, building in (("near", "3"), ("paired", "9")):
        world.run(
            UpsertHelper(
                profile=seal_profile(
                    KEYS, world.helper(hid, building=building, skills=[Skill.DRIVING])
                )
            )
        )
    pair = seal_command(
        KEYS, world.command(PairHousehold(helper_id="paired", household_id=HOUSEHOLD))
    )
    assert isinstance(pair.body, PairHousehold) and HOUSEHOLD not in pair.model_dump_json()
    assert seal_pairing(KEYS, pair.community_id, pair.body) == pair.body
    world.run(pair)
    spec = world.spec(place=place(household=HOUSEHOLD), requester_household_id=HOUSEHOLD)
    decision = world.run(SubmitRequest(spec=seal_spec(KEYS, spec)))
    assert world.offered(decision)[0] == "paired"
    assert HOUSEHOLD not in world.state.helpers["paired"].model_dump_json()


def test_the_group_hears_the_name_only_when_the_helper_opted_in(world: World) -> None:
    for hid, opted in (("shown", True), ("quiet", False)):
        profile = named(world, hid, name_in_group=opted)
        world.run(UpsertHelper(profile=seal_profile(KEYS, profile)))
    first = world.offered(world.submit())[0]
    assigned = world.of_type("helper_assigned", world.accept(first))[0]
    assert isinstance(assigned, HelperAssigned)
    assert NAME not in assigned.model_dump_json()
    expected = NAME if assigned.helper_id == "shown" else None
    assert group_name(KEYS, assigned) == expected


def test_an_old_plain_helper_command_and_table_record_are_sealed(world: World) -> None:
    plain = named(world, "h1", paired_household_ids=(HOUSEHOLD,))
    raw = world.command(UpsertHelper(profile=plain)).model_dump_json()
    assert NAME in raw and USER in raw  # what a topic written before holds
    command = seal_command(KEYS, Command.model_validate_json(raw))
    for secret in (NAME, USER, HOUSEHOLD, UNIT):
        assert secret not in command.model_dump_json()
    world.run(UpsertHelper(profile=plain))  # a table written before this change
    stored = [(h, encode_record(0, s)) for h, s in world.state.helpers.items()]
    assert USER.encode() in b"".join(r for _, r in stored)  # (the name is \u-escaped)
    rebuilt = WorkerState.rebuild([], stored, frozenset({0}), 1, keys=KEYS).core
    wire = rebuilt.helpers["h1"].model_dump_json()
    assert NAME not in wire and USER not in wire and HOUSEHOLD not in wire
    assert helper_detail(KEYS, rebuilt.helpers["h1"].profile).platform_user_id == USER


def test_the_assignment_shows_the_unit_from_the_box_or_an_old_event(world: World) -> None:
    world.helper("h1", skills=[Skill.DRIVING])
    world.run(SubmitRequest(spec=seal_spec(KEYS, world.spec())))
    assigned = world.of_type("helper_assigned", world.accept("h1"))[0]
    assert isinstance(assigned, HelperAssigned) and assigned.place.unit is None
    assert open_assignment(KEYS, "req-1", assigned).unit == "2"
    old = assigned.model_copy(update={"place": place(), "sealed": None})  # before 12.7
    assert open_assignment(KEYS, "req-1", old).unit == "2"
