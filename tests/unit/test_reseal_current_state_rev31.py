"""Review 31: `reseal-helpers` wrote back the profile it had read (an UpsertHelper of it,
sealed again), so a ledger import or a self-registration changing the same helper between
its read and the worker's apply was undone. It now has the worker store the helper as the
worker holds it (a `RewriteHelper`, applied to the current state). And helpers
deactivated before deactivating erased their contact are stored inactive with it: the
worker's decode and rebuild erase it (`seal_profile`), the same run writes them."""

from __future__ import annotations

from dispatcher.core.helper_commands import off_the_roster
from dispatcher.maintenance.reseal_helpers import plan_reseals, rewrite_commands
from dispatcher.sealing import (
    KeyRing,
    helper_detail,
    helper_name,
    helper_phone,
    seal_command,
    seal_profile,
)
from schemas.commands import Command, PairHousehold, RewriteHelper, UpsertHelper
from schemas.helpers import HelperProfile
from schemas.records import HelperState
from schemas.vocab import Skill
from streams.state_store import WorkerState, encode_record
from tests.unit.conftest import World

ID_KEY = "helper-id-key-" + "i" * 32
K1, K2, K0 = ("k1-" + "a" * 40), ("k2-" + "b" * 40), ("k0-" + "z" * 40)
BEFORE = KeyRing(K1, [], ID_KEY)
ROTATED = KeyRing(K2, [K1], ID_KEY)
PHONE, NAME, USER = "13800000311", "周阿姨", "wx-zhou"


def listed(world: World, helper_id: str, ring: KeyRing = BEFORE, name: str = NAME) -> HelperProfile:
    plain = world.helper(helper_id, skills=[Skill.DRIVING], phone=PHONE)
    place = plain.place.model_copy(update={"unit": "2单元", "floor": 3})
    update = {"name": name, "platform_user_id": USER, "place": place}
    return seal_profile(ring, plain.model_copy(update=update))


def deactivated_before(profile: HelperProfile) -> HelperProfile:
    """What a DeactivateHelper stored before review 30: inactive, every box kept."""
    return profile.model_copy(update={"active": False})


def contact(ring: KeyRing, profile: HelperProfile) -> tuple[str | None, str, str | None]:
    return (
        helper_phone(ring, profile),
        helper_name(ring, profile),
        helper_detail(ring, profile).platform_user_id,
    )


def decoded(command: Command) -> Command:
    """As the worker decodes it (streams/dispatch_agent.py)."""
    return seal_command(ROTATED, command)


# ---------------------------------------------------------------------- the erase
def test_an_inactive_profile_keeps_no_contact_as_the_worker_keeps_it(world: World) -> None:
    stored = deactivated_before(listed(world, "h1"))
    kept = seal_profile(ROTATED, stored)
    assert kept == off_the_roster(stored)
    assert contact(ROTATED, kept) == (None, "", None)
    assert (kept.phone_key, kept.place.unit, kept.place.floor) == (None, None, None)
    assert seal_profile(ROTATED, kept) is kept  # nothing more to do
    assert contact(ROTATED, seal_profile(ROTATED, listed(world, "h2"))) == (PHONE, NAME, USER)


def test_the_rebuild_erases_a_contact_stored_inactive(world: World) -> None:
    """A table written by the old deactivation: the worker rebuilt from it holds none."""
    stored = deactivated_before(listed(world, "h1"))
    world.run(UpsertHelper(profile=stored))  # (the core as it stores a roster `active: false`)
    assert contact(BEFORE, world.state.helpers["h1"].profile) == (PHONE, NAME, USER)
    table = [(h, encode_record(0, s)) for h, s in world.state.helpers.items()]
    rebuilt = WorkerState.rebuild([], table, frozenset({0}), 1, keys=BEFORE).core
    assert rebuilt.helpers["h1"].profile == off_the_roster(stored)


def test_a_queued_inactive_profile_is_erased_on_decode(world: World) -> None:
    stored = deactivated_before(listed(world, "h1"))
    command = decoded(world.command(UpsertHelper(profile=stored)))
    assert isinstance(command.body, UpsertHelper)
    assert command.body.profile == off_the_roster(stored)


# ---------------------------------------------------------------------- the plan
def test_the_plan_names_stale_and_retired_helpers(world: World) -> None:
    states = [
        HelperState(profile=listed(world, "old")),
        HelperState(profile=listed(world, "new", ring=ROTATED)),
        HelperState(profile=deactivated_before(listed(world, "gone", ring=ROTATED))),
        HelperState(profile=listed(world, "lost", ring=KeyRing(K0, [], ID_KEY))),
        HelperState(profile=off_the_roster(listed(world, "erased"))),
    ]
    plan = plan_reseals(states, ROTATED)
    assert [s.helper_id for s in plan.stale] == ["old"]
    assert [s.helper_id for s in plan.retired] == ["gone"]
    assert plan.unreadable == ["lost"]
    rewrites = rewrite_commands(plan, world.now)
    assert [c.body for c in rewrites] == [
        RewriteHelper(helper_id="old"),
        RewriteHelper(helper_id="gone"),
    ]
    ids = [c.command_id for c in rewrites]
    assert len(set(ids)) == len(ids)
    # Carried as it is: never a profile.
    for c in rewrites:
        assert decoded(c) == c
        assert Command.model_validate_json(c.model_dump_json()) == c


def test_a_rewrite_stores_the_helper_as_held_and_changes_nothing(world: World) -> None:
    world.run(UpsertHelper(profile=listed(world, "h1")))
    held = world.state.helpers["h1"]
    stored = world.run(RewriteHelper(helper_id="h1")).helpers["h1"]
    assert stored.model_copy(update={"recent_command_ids": held.recent_command_ids}) == held
    unknown = world.run(RewriteHelper(helper_id="nobody"))
    assert unknown.helpers == {}
    assert [e.body.type for e in unknown.events] == ["command_rejected"]


# ---------------------------------------------------------------------- the race
def test_a_change_applied_between_the_read_and_the_rewrite_is_kept(world: World) -> None:
    """The tool reads the table (under K1), a ledger import changes the helper's name (the
    API seals it under K2), then the rewrite: the worker's state keeps the new name, under
    K2, and the pairings as they were. (The old UpsertHelper of what was read wrote the
    old name back.)"""
    read = listed(world, "h1")
    world.run(UpsertHelper(profile=read))
    world.run(PairHousehold(helper_id="h1", household_id="hh-real"))
    table = [(h, encode_record(0, s)) for h, s in world.state.helpers.items()]
    world.state = WorkerState.rebuild([], table, frozenset({0}), 1, keys=ROTATED).core
    plan = plan_reseals([world.state.helpers["h1"].model_copy(update={"profile": read})], ROTATED)
    assert [s.helper_id for s in plan.stale] == ["h1"]
    renamed = listed(world, "h1", ring=ROTATED, name="周建华")
    world.run(decoded(world.command(UpsertHelper(profile=renamed))))  # meanwhile
    pairs = world.state.helpers["h1"].household_pairs
    for c in rewrite_commands(plan, world.now):
        world.run(decoded(c))
    after = world.state.helpers["h1"]
    assert contact(KeyRing(K2, [], ID_KEY), after.profile) == (PHONE, "周建华", USER)
    assert after.household_pairs == pairs
    assert plan_reseals([after], ROTATED).rewrite == []
