"""Review 30, key rotation: a helper's boxes live as long as the helper, so they are sealed
again under the active key (the worker's decode and rebuild, `reseal-helpers`), and a
helper sealed before a rotation still opens once the previous key is dropped."""

from __future__ import annotations

from dispatcher.maintenance.reseal_helpers import plan_reseals
from dispatcher.sealing import (
    KeyRing,
    helper_detail,
    helper_name,
    helper_phone,
    seal_command,
    seal_profile,
    stale_kids,
)
from schemas.commands import UpsertHelper
from schemas.helpers import HelperProfile
from schemas.records import HelperState
from schemas.vocab import Skill
from streams.state_store import WorkerState, encode_record
from tests.unit.conftest import World

ID_KEY = "helper-id-key-" + "i" * 32
K1, K2, K0 = ("k1-" + "a" * 40), ("k2-" + "b" * 40), ("k0-" + "z" * 40)
BEFORE = KeyRing(K1, [], ID_KEY)  # the key the helper was sealed under
ROTATED = KeyRing(K2, [K1], ID_KEY)  # K2 seals, K1 opens only
DROPPED = KeyRing(K2, [], ID_KEY)  # K1 retired
PHONE, NAME, USER = "13800000201", "陈师傅", "wx-chen"


def sealed_before(world: World, helper_id: str = "h1", ring: KeyRing = BEFORE) -> HelperProfile:
    plain = world.helper(helper_id, skills=[Skill.DRIVING], phone=PHONE)
    return seal_profile(ring, plain.model_copy(update={"name": NAME, "platform_user_id": USER}))


def opens_after_the_old_key_is_dropped(profile: HelperProfile) -> bool:
    detail = helper_detail(DROPPED, profile)
    return (
        helper_phone(DROPPED, profile),
        helper_name(DROPPED, profile),
        detail.platform_user_id,
    ) == (
        PHONE,
        NAME,
        USER,
    )


def test_a_profile_under_a_previous_key_is_sealed_again_under_the_active_one(world: World) -> None:
    before = sealed_before(world)
    assert not opens_after_the_old_key_is_dropped(before)  # what dropping K1 used to lose
    after = seal_profile(ROTATED, before)
    assert stale_kids(ROTATED, after) == []
    assert {b.kid for b in (after.sealed_phone, after.sealed_name, after.sealed_detail) if b} == {
        ROTATED.active_kid
    }
    assert after.phone_key == before.phone_key  # the digest is the helper-id key's
    assert opens_after_the_old_key_is_dropped(after)
    assert seal_profile(ROTATED, after) is after  # under the active key: as it is


def test_a_box_under_no_configured_key_is_kept_as_it_is(world: World) -> None:
    lost = sealed_before(world, ring=KeyRing(K0, [], ID_KEY))
    assert seal_profile(ROTATED, lost) is lost  # kept: putting K0 back would open it
    assert stale_kids(ROTATED, lost) == [KeyRing(K0, [], ID_KEY).active_kid]


def test_the_worker_seals_a_queued_profile_again_on_decode_and_rebuild(world: World) -> None:
    before = sealed_before(world)
    command = seal_command(ROTATED, world.command(UpsertHelper(profile=before)))
    assert isinstance(command.body, UpsertHelper)
    assert opens_after_the_old_key_is_dropped(command.body.profile)
    world.run(UpsertHelper(profile=before))  # a table written before the rotation
    stored = [(h, encode_record(0, s)) for h, s in world.state.helpers.items()]
    rebuilt = WorkerState.rebuild([], stored, frozenset({0}), 1, keys=ROTATED).core
    assert opens_after_the_old_key_is_dropped(rebuilt.helpers["h1"].profile)


def test_reseal_helpers_plans_the_stale_profiles_once(world: World) -> None:
    states = [
        HelperState(profile=sealed_before(world, "old")),
        HelperState(profile=sealed_before(world, "new", ring=ROTATED)),
        HelperState(profile=sealed_before(world, "lost", ring=KeyRing(K0, [], ID_KEY))),
        HelperState(profile=world.helper("plain-none", skills=[Skill.DRIVING])),
    ]
    plan = plan_reseals(states, ROTATED)
    # A profile from before 12.7 (in the clear) is written sealed by the same run.
    assert [s.helper_id for s in plan.stale] == ["old", "plain-none"]
    assert plan.unreadable == ["lost"]
    # The workers write it from their own state (tests/unit/test_reseal_current_state_rev31.py):
    # once they did, nothing is left to do.
    new = seal_profile(ROTATED, plan.stale[0].profile)
    assert opens_after_the_old_key_is_dropped(new)
    assert plan_reseals([HelperState(profile=new)], ROTATED).rewrite == []
