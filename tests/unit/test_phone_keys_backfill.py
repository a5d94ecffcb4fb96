"""`phone-keys` (migration 0395's backfill), its pure part: which helpers of the workers'
table get a phone digest. Active helpers with a phone that opens, each once; never an
inactive one (its contact is erased, and nothing may name an off-roster helper); a box
no configured key opens is counted `unreadable` by id, never guessed."""

from __future__ import annotations

from dispatcher.maintenance.phone_keys_backfill import (
    Digest,
    batches,
    plan_digests,
    summary,
)
from dispatcher.sealing import KeyRing, seal_profile
from schemas.helpers import HelperProfile
from schemas.records import HelperState
from tests.unit.conftest import COMMUNITY, World

ID_KEY = "helper-id-key-" + "i" * 32
K1, K2, K0 = ("k1-" + "a" * 40), ("k2-" + "b" * 40), ("k0-" + "z" * 40)
RING = KeyRing(K2, [K1], ID_KEY)  # the active key, and a previous one
PHONES = {"h1": "13800000401", "h2": "+86 138-0000-0402", "h3": "13800000403"}


def state(profile: HelperProfile, ring: KeyRing = RING, **update: object) -> HelperState:
    return HelperState(profile=seal_profile(ring, profile.model_copy(update=update)))


def test_active_helpers_with_a_phone_get_its_digest_each_once(world: World) -> None:
    other = world.place(community="other-town")
    states = [
        state(world.helper("h1", phone=PHONES["h1"])),
        # Under the previous key: it still opens (the digest does not depend on the key).
        state(world.helper("h2", phone=PHONES["h2"]), KeyRing(K1, [], ID_KEY)),
        state(world.helper("h3", phone=PHONES["h3"]), active=False),  # off the roster
        state(world.helper("h4")),  # no phone
        state(world.helper("h5", phone="13800000405"), KeyRing(K0, [], ID_KEY)),  # key dropped
        state(world.helper("h6", phone="13800000406"), place=other),
        # The same helper read twice: the last record is the table's.
        state(world.helper("h7", phone="13800000499")),
        state(world.helper("h7", phone="13800000407")),
        # A profile from before 12.7 (plain phone) opens as it is.
        HelperState(profile=world.helper("h8", phone="13800000408")),
    ]
    plan = plan_digests(states, RING)
    assert sorted(plan.digests, key=lambda d: d.helper_id) == [
        Digest(COMMUNITY, "h1", key(PHONES["h1"])),
        Digest(COMMUNITY, "h2", key("13800000402")),  # normalised as everywhere else
        Digest("other-town", "h6", key("13800000406")),
        Digest(COMMUNITY, "h7", key("13800000407")),
        Digest(COMMUNITY, "h8", key("13800000408")),
    ]
    assert (plan.helpers, plan.active, plan.no_phone, plan.unreadable) == (8, 7, 1, ["h5"])
    # Never a phone in what it keeps (its digests and ids only).
    assert not any(p in repr(plan) for p in [*PHONES.values(), "13800000405", "0402"])


def test_only_the_communities_asked_for(world: World) -> None:
    other = world.place(community="other-town")
    states = [
        state(world.helper("h1", phone=PHONES["h1"])),
        state(world.helper("h6", phone="13800000406"), place=other),
        state(world.helper("h9", phone="13800000409"), KeyRing(K0, [], ID_KEY), place=other),
    ]
    plan = plan_digests(states, RING, {"other-town"})
    assert plan.digests == [Digest("other-town", "h6", key("13800000406"))]
    assert (plan.helpers, plan.active, plan.unreadable) == (2, 2, ["h9"])
    assert plan_digests(states, RING, {"nowhere"}).helpers == 0


def test_one_statement_per_community_batch() -> None:
    rows = [Digest("b", f"h{i}", "pk") for i in range(5)] + [Digest("a", "x", "pk")]
    assert [(c, [d.helper_id for d in r]) for c, r in batches(rows, size=2)] == [
        ("a", ["x"]),
        ("b", ["h0", "h1"]),
        ("b", ["h2", "h3"]),
        ("b", ["h4"]),
    ]


def key(phone: str) -> str:
    digest = RING.phone_key(phone)
    assert digest is not None
    return digest


def test_the_summary_line() -> None:
    counts = dict(helpers=9, active=7, inserted=3, present=2, deactivated=1, no_phone=1)
    report: dict[str, int | list[str]] = {**counts, "unreadable": 1, "unreadable_ids": ["h5"]}
    assert summary({**report, "dry_run": False}) == (
        "phone-keys: helpers 9 (active 7), inserted 3, present 2, deactivated 1, no_phone 1, "
        "unreadable 1"
    )
    assert summary({**report, "dry_run": True}).endswith("(dry run: nothing written)")
