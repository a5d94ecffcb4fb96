"""Two flats of one building are two incidents (session 41's requester-side audit).

`merge_key` held the building, kind, urgency, number and household; chat reports almost
never carry a household, so "3号楼502…摔倒" and "3号楼1201…摔倒" from two families had one
key and the second was merged into the first: never dispatched. The key now holds the flat
a report names (keyed, never in the clear); a report naming none keeps its old key.
"""

from __future__ import annotations

from dispatcher.api.chat_spec import spec_for_message
from dispatcher.api.command_queue import flat_key, flat_of, merge_key
from dispatcher.api.models import ChatMessageIn
from dispatcher.classify import classify
from dispatcher.groupchat.bots import GroupPlace
from dispatcher.sealing import KeyRing, seal_spec
from schemas.requests import RequestSpec

GROUP = GroupPlace(
    community_id="siming", grid_id="g1", compound_id="tuqiang", compound_name="图强小区"
)
RING = KeyRing("contact-key-for-tests-0123456789abcdef", [], "phone-key-for-tests-0123456789")


def spec(text: str, mid: str) -> RequestSpec:
    m = ChatMessageIn.model_validate(
        {"group_id": "grid-1", "message_id": mid, "sender": {"id": mid, "name": "王"}, "text": text}
    )
    return spec_for_message(m, classify(m.text), GROUP, request_id=mid, bot_id="b")


def key(s: RequestSpec) -> str | None:
    return merge_key(seal_spec(RING, s), flat_key(RING, s))


def test_two_flats_of_one_building_have_two_keys() -> None:
    a = spec("3号楼502，我老伴摔倒了起不来，快来人帮忙", "m1")
    b = spec("3号楼1201，我妈摔倒了起不来，快来人帮忙", "m2")
    assert a.place.building_id == b.place.building_id == "b3"
    assert flat_of(a) != flat_of(b)
    assert key(a) != key(b)


def test_the_same_flat_reported_twice_has_one_key() -> None:
    a = spec("3号楼502，我老伴摔倒了起不来，快来人帮忙", "m1")
    b = spec("3号楼502有老人摔倒了起不来", "m2")
    assert key(a) == key(b)


def test_full_width_digits_name_the_same_flat() -> None:
    a = spec("3号楼502，我老伴摔倒了起不来", "m1")
    b = spec("3号楼５０２，我老伴摔倒了起不来", "m2")
    assert flat_of(a) == flat_of(b) and key(a) == key(b)


def test_a_report_naming_no_flat_keeps_its_key_and_no_flat_travels_in_the_clear() -> None:
    bare = spec("3号楼有位老人摔倒了起不来", "m1")
    assert flat_of(bare) is None
    assert key(bare) == merge_key(seal_spec(RING, bare)) == "siming|tuqiang|b3|fall|critical|120|-"
    named = key(spec("3号楼2单元1201，我妈摔倒了起不来", "m2"))
    assert (
        named is not None
        and "1201" not in named
        and named.startswith("siming|tuqiang|b3|fall|critical|120|-|hk-")
    )
