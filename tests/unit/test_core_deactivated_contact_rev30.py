"""Review 30, finding 2 (the core's part): a helper's contact is kept while they are on the
roster. Deactivated, their profile in the worker's table (and so its changelog) keeps no
phone (plain, sealed or keyed), name, platform user id, unit or floor; a ledger listing
them again brings it all back."""

from __future__ import annotations

from dispatcher.core.helper_commands import off_the_roster
from dispatcher.sealing import KeyRing, helper_detail, helper_name, helper_phone, seal_profile
from schemas.commands import DeactivateHelper, UpsertHelper
from schemas.helpers import HelperProfile
from schemas.vocab import Skill
from streams.state_store import encode_profile
from tests.unit.conftest import World

KEYS = KeyRing("contact-key-" + "c" * 32, [], "helper-id-key-" + "i" * 32)
PHONE = "13812345678"
NAME = "王秀兰"
USER = "wx-userid-wangxl"
UNIT = "二单元"


def listed(world: World, helper_id: str) -> HelperProfile:
    """A helper as a ledger import sends them: phone, name, platform id and home sealed."""
    plain = world.helper(helper_id, phone=PHONE, skills=[Skill.DRIVING])
    plain = plain.model_copy(
        update={
            "name": NAME,
            "platform_user_id": USER,
            "place": plain.place.model_copy(update={"unit": UNIT, "floor": 5}),
        }
    )
    sealed = seal_profile(KEYS, plain)
    world.run(UpsertHelper(profile=sealed))
    return sealed


def stored_bytes(world: World, helper_id: str) -> bytes:
    """The helper's profile record as the worker's table writes it to its changelog."""
    return encode_profile(0, world.state.helpers[helper_id].profile)


def test_a_deactivated_helper_keeps_no_contact(world: World) -> None:
    sealed = listed(world, "h1")
    before = stored_bytes(world, "h1")
    assert sealed.sealed_phone is not None and sealed.sealed_phone.box.encode() in before
    decision = world.run(DeactivateHelper(helper_id="h1"))
    [updated] = world.of_type("helper_updated", decision)
    assert updated.active is False
    profile = world.state.helpers["h1"].profile
    assert not profile.active
    assert (profile.sealed_phone, profile.sealed_name, profile.sealed_detail) == (None, None, None)
    assert (profile.phone, profile.phone_key, profile.name, profile.platform_user_id) == (
        None,
        None,
        "",
        None,
    )
    assert (profile.place.unit, profile.place.floor) == (None, None)
    # What the readers open is gone, and they cope: nothing, not an error.
    assert helper_phone(KEYS, profile) is None and helper_name(KEYS, profile) == ""
    assert helper_detail(KEYS, profile).platform_user_id is None
    after = stored_bytes(world, "h1")
    for box in (sealed.sealed_phone, sealed.sealed_name, sealed.sealed_detail):
        assert box is not None and box.box.encode() not in after
    assert sealed.phone_key is not None and sealed.phone_key.encode() not in after
    # What dispatch and reports count by stays.
    assert profile.place.building_id == sealed.place.building_id
    assert profile.skills == sealed.skills


def test_listed_again_the_contact_comes_back(world: World) -> None:
    sealed = listed(world, "h1")
    world.run(DeactivateHelper(helper_id="h1"))
    world.run(UpsertHelper(profile=sealed))
    assert world.state.helpers["h1"].profile == sealed
    assert helper_phone(KEYS, world.state.helpers["h1"].profile) == PHONE


def test_a_helper_deactivated_before_loses_the_contact_at_the_next_deactivation(
    world: World,
) -> None:
    """Stored inactive with their contact (by the rule before, or `active: false` on the
    roster): a deactivation erases it; a second one changes nothing more."""
    sealed = listed(world, "h1")
    world.run(UpsertHelper(profile=sealed.model_copy(update={"active": False})))
    assert world.state.helpers["h1"].profile.sealed_phone is not None
    first = world.run(DeactivateHelper(helper_id="h1"))
    assert world.of_type("helper_updated", first)
    assert world.state.helpers["h1"].profile == off_the_roster(sealed)
    again = world.run(DeactivateHelper(helper_id="h1"))
    assert not world.of_type("helper_updated", again)


def test_a_deactivated_helper_is_offered_nothing(world: World) -> None:
    listed(world, "h1")
    world.helper("h2", skills=[Skill.DRIVING])
    world.run(DeactivateHelper(helper_id="h1"))
    assert world.offered(world.submit()) == ["h2"]
