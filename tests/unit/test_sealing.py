"""Contacts sealed for Kafka (dispatcher/sealing.py): what leaves the API holds no contact
in the clear, opens only under a configured key and only where it belongs, survives a key
rotation, and old plain records are sealed on decode."""

from __future__ import annotations

import base64

import pytest

from dispatcher.sealing import (
    KeyRing,
    Unreadable,
    helper_phone,
    open_assignment,
    open_sealed,
    open_stored,
    seal_command,
    seal_profile,
    seal_spec,
    unsealed_profile,
)
from schemas.commands import AcceptOffer, Command, SubmitRequest, UpsertHelper
from schemas.events import HelperAssigned
from schemas.requests import RequesterContact, RequestSpec
from schemas.sealed import Sealed
from schemas.vocab import Skill
from streams.state_store import WorkerState, encode_record
from tests.unit.conftest import World

OLD = "old-contact-key-" + "o" * 32
NEW = "new-contact-key-" + "n" * 32
ID_KEY = "helper-id-key-" + "i" * 32
PHONE = "13912345678"
ADDRESS = "3号楼2单元501室"
NAME = "林女士"
TEXT = "我在3号楼2单元501，老人摔倒了"


def ring(active: str = NEW, *previous: str) -> KeyRing:
    return KeyRing(active, list(previous), ID_KEY)


def personal(world: World) -> RequestSpec:
    return world.spec(contact=RequesterContact(name=NAME, phone=PHONE, address=ADDRESS), text=TEXT)


def test_a_sealed_spec_holds_nothing_personal_on_the_wire(world: World) -> None:
    spec = seal_spec(ring(), personal(world))
    wire = SubmitRequest(spec=spec).model_dump_json()
    assert spec.sealed is not None and spec.sealed.box in wire
    # The box is random base64 (AES-GCM): "501" or "13912" turn up in it by chance
    # (3 in 3,000 runs). Everything on the wire but the box holds no secret.
    rest = wire.replace(spec.sealed.box, "")
    for secret in (PHONE, ADDRESS, NAME, "501", "摔倒", "13912"):
        assert secret not in rest
    assert spec.contact == RequesterContact() and spec.text == ""
    assert spec.sealed is not None and spec.requester_phone_key is not None
    opened = open_sealed(ring(), spec.request_id, spec.sealed)
    assert (opened.contact.phone, opened.contact.address, opened.contact.name) == (
        PHONE,
        ADDRESS,
        NAME,
    )
    assert opened.text == TEXT


def test_each_box_is_fresh_and_sealing_twice_changes_nothing(world: World) -> None:
    plain = personal(world)
    a, b = seal_spec(ring(), plain), seal_spec(ring(), plain)
    assert a.sealed is not None and b.sealed is not None
    assert a.sealed.box != b.sealed.box  # a fresh nonce each time
    assert seal_spec(ring(), a) is a
    empty = world.spec(contact=RequesterContact(), text="")
    building_only = empty.place.model_copy(
        update={"unit": None, "floor": None, "household_id": None}
    )
    empty = empty.model_copy(update={"place": building_only})
    assert seal_spec(ring(), empty) is empty  # nothing personal: nothing to seal


def test_a_box_does_not_open_without_its_key_or_in_another_request(world: World) -> None:
    spec = seal_spec(ring(), personal(world))
    assert spec.sealed is not None
    with pytest.raises(Unreadable, match="not configured"):
        open_sealed(ring("some-other-key-" + "x" * 32), spec.request_id, spec.sealed)
    with pytest.raises(Unreadable, match="altered or moved"):
        open_sealed(ring(), "another-request", spec.sealed)  # copied into another record
    raw = bytearray(base64.urlsafe_b64decode(spec.sealed.box))
    raw[-1] ^= 1
    altered = Sealed(kid=spec.sealed.kid, box=base64.urlsafe_b64encode(bytes(raw)).decode())
    with pytest.raises(Unreadable, match="altered or moved"):
        open_sealed(ring(), spec.request_id, altered)


def test_rotation_previous_keys_open_only_and_a_retired_key_reads_nothing(world: World) -> None:
    before = seal_spec(ring(OLD), personal(world))
    assert before.sealed is not None
    rotated = ring(NEW, OLD)
    assert open_sealed(rotated, before.request_id, before.sealed).contact.phone == PHONE
    after = seal_spec(rotated, personal(world))
    assert after.sealed is not None and after.sealed.kid == ring(NEW).active_kid
    assert after.sealed.kid != before.sealed.kid
    # The old key retired: what it sealed (still in a changelog, say) is unreadable.
    with pytest.raises(Unreadable):
        open_sealed(ring(NEW), before.request_id, before.sealed)
    # The phone digest does not depend on the contact key: matching survives rotation.
    assert before.requester_phone_key == after.requester_phone_key


def test_phone_keys_match_across_spellings_and_need_the_key() -> None:
    keys = ring()
    assert keys.phone_key("+86 139-1234-5678") == keys.phone_key(PHONE)
    assert keys.phone_key(PHONE) != KeyRing(NEW, [], "another-id-key-" + "j" * 32).phone_key(PHONE)
    digest = keys.phone_key(PHONE)
    assert digest is not None and "1391234" not in digest
    assert keys.phone_key(None) is None and keys.phone_key("") is None


def test_a_helper_phone_is_sealed_and_opened_for_the_mention(world: World) -> None:
    world.helper("h1", phone=PHONE)
    profile = world.state.helpers["h1"].profile
    sealed = seal_profile(ring(), profile)
    assert sealed.phone is None and sealed.sealed_phone is not None
    assert PHONE not in sealed.model_dump_json()
    assert helper_phone(ring(), sealed) == PHONE
    assert helper_phone(ring("some-other-key-" + "x" * 32), sealed) is None
    moved = sealed.model_copy(update={"helper_id": "h2"})  # a box bound to another helper
    assert helper_phone(ring(), moved) is None
    assert unsealed_profile(ring(), sealed).phone == PHONE
    assert helper_phone(ring(), profile) == PHONE  # a plain profile from before


def test_the_requester_is_still_never_offered_their_own_request(world: World) -> None:
    """The core compares keyed digests: a helper registered with the requester's phone
    (written differently) is skipped, as when it compared the digits."""
    keys = ring()
    for hid, phone in (("me", "+86 139-1234-5678"), ("neighbour", "13700000000")):
        profile = world.helper(hid, phone=phone, skills=[Skill.DRIVING])
        world.run(UpsertHelper(profile=seal_profile(keys, profile)))
    assert PHONE not in world.state.helpers["me"].model_dump_json()
    decision = world.run(SubmitRequest(spec=seal_spec(keys, personal(world))))
    assert world.offered(decision) == ["neighbour"]


def test_an_old_plain_command_is_sealed_on_decode(world: World) -> None:
    """A SubmitRequest from before (plain contact) is handled: sealed before the core,
    so the table (changelog) and the HelperAssigned event never hold it in the clear."""
    keys = ring()
    old = world.command(SubmitRequest(spec=personal(world)))
    old_json = old.model_dump_json()
    assert PHONE in old_json  # what a topic written before this change holds
    command = seal_command(keys, Command.model_validate_json(old_json))
    assert PHONE not in command.model_dump_json() and ADDRESS not in command.model_dump_json()
    world.helper("h1", skills=[Skill.DRIVING])
    world.run(command)
    assert PHONE not in world.request().model_dump_json()
    decision = world.accept("h1")
    assigned = world.of_type("helper_assigned", decision)[0]
    wire = decision.events[0].model_dump_json()
    assert PHONE not in wire and NAME not in wire and ADDRESS not in wire
    opened = open_assignment(keys, "req-1", assigned)
    assert (opened.contact.phone, opened.contact.address, opened.text) == (PHONE, ADDRESS, TEXT)


def test_an_old_plain_assignment_and_stored_row_still_open(world: World) -> None:
    """Events and request_private rows from before carry the contact plain: still shown."""
    world.helper("h1", skills=[Skill.DRIVING])
    world.submit(contact=RequesterContact(name=NAME, phone=PHONE, address=ADDRESS), text=TEXT)
    assigned = world.of_type("helper_assigned", world.accept("h1"))[0]
    assert isinstance(assigned, HelperAssigned) and assigned.sealed is None
    assert open_assignment(ring(), "req-1", assigned).contact.phone == PHONE
    row = open_stored(ring(), "r", {"phone": PHONE, "name": NAME}, TEXT, None)
    assert (row.contact.phone, row.text) == (PHONE, TEXT)


def test_other_commands_pass_unchanged(world: World) -> None:
    accept = world.command(AcceptOffer(request_id="r", offer_id="o", helper_id="h"))
    assert seal_command(ring(), accept) is accept
    sealed = world.command(SubmitRequest(spec=seal_spec(ring(), personal(world))))
    assert seal_command(ring(), sealed) is sealed


def test_a_worker_restored_from_plain_records_seals_them_and_still_knows_the_requester(
    world: World,
) -> None:
    """Tables written before issue 12.7 (a helper's plain phone, an open request's plain
    contact): on rebuild the worker seals them in memory, so phone digests compare alike
    with new requests' and the next assignment carries only a box."""
    keys = ring()
    world.helper("me", phone=PHONE, skills=[Skill.DRIVING])
    world.helper("neighbour", phone="13700000000", skills=[Skill.DRIVING])
    world.submit("old-req", contact=RequesterContact(name=NAME, phone="13600000000"))
    stored_h = [(h, encode_record(0, s)) for h, s in world.state.helpers.items()]
    stored_r = [(r, encode_record(0, s)) for r, s in world.state.requests.items()]
    assert PHONE.encode() in b"".join(raw for _, raw in stored_h)
    rebuilt = WorkerState.rebuild(stored_r, stored_h, frozenset({0}), 1, keys=keys).core
    assert PHONE not in rebuilt.helpers["me"].model_dump_json()
    assert "13600000000" not in rebuilt.requests["old-req"].model_dump_json()
    restored = World()
    restored.state = rebuilt
    decision = restored.run(SubmitRequest(spec=seal_spec(keys, personal(restored))))
    assert "me" not in restored.offered(decision) and "neighbour" in restored.offered(decision)


def test_the_longest_text_the_api_takes_still_decodes_sealed(world: World) -> None:
    """2,000 control characters (6 bytes each once JSON-escaped) and the longest contact:
    the worker must still decode the command, or an acknowledged request would be lost."""
    contact = RequesterContact(name="\x01" * 64, phone="+86 139-1234-5678", address="\x02" * 200)
    spec = seal_spec(ring(), world.spec(contact=contact, text="\x03" * 2000))
    raw = world.command(SubmitRequest(spec=spec)).model_dump_json()
    assert Command.model_validate_json(raw).body == SubmitRequest(spec=spec)
