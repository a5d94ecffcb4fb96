"""Review 32: the benches' requesters and helpers get obviously made-up phones (a random
13x number may be a real person's, who would then be called or offered work), one per
helper where helpers must not share one, and never a helper's as a requester's."""

from __future__ import annotations

import json
import re

import pytest

from dispatcher.bench.community import build_entries
from dispatcher.bench.e2e_city import RequestFactory, build_city
from dispatcher.bench.match import _spec
from dispatcher.bench.notify import build_waves
from dispatcher.sealing import KeyRing, unsealed_profile
from schemas.records import HelperState

HELPER_FAKE = re.compile(r"138000[0-9]{5}")  # dispatcher/ops/district.py's fake_phone
REQUESTER_FAKE = re.compile(r"138001[0-9]{5}")
COMMUNITY_FAKE = re.compile(r"13801[0-9]{6}")


def test_e2e_requesters_have_made_up_phones_no_helper_has() -> None:
    city = build_city(2, 200, seed=7)
    helpers = {h["phone"] for h in city.helpers}
    assert all(HELPER_FAKE.fullmatch(p) for p in helpers)
    factory = RequestFactory(city, seed=7, bot_id="bot", run_tag="t")
    phones = [factory.make()["contact"]["phone"] for _ in range(500)]
    assert all(REQUESTER_FAKE.fullmatch(p) for p in phones), phones
    assert not helpers & set(phones)
    assert len(set(phones)) > 490  # still drawn, not one number for everybody


def test_bench_community_phones_are_made_up_and_one_per_helper() -> None:
    phones = [e.phone for e in build_entries(5000, seed=3)]
    assert all(p is not None and COMMUNITY_FAKE.fullmatch(p) for p in phones), phones[:3]
    assert len(set(phones)) == len(phones)
    assert _spec(0, 0).contact is not None
    assert _spec(0, 0).contact.phone not in phones  # the match bench's requester
    from dispatcher.bench.community import helper_phone  # new in review 32

    assert helper_phone(999_999) == "13801999999"
    with pytest.raises(ValueError, match="1,000,000 helpers"):
        helper_phone(1_000_000)


def test_notify_bench_helpers_have_made_up_phones_one_each() -> None:
    from dispatcher.bench.notify import KEYS

    ring = KeyRing(KEYS["contact_key"], [], KEYS["helper_id_key"])
    _, named, _ = build_waves(20, 300, seed=5)
    phones = [
        unsealed_profile(ring, HelperState.model_validate(json.loads(s)).profile).phone
        for s in named.values()
    ]
    assert phones and all(p is not None and COMMUNITY_FAKE.fullmatch(p) for p in phones)
    assert len(set(phones)) == len(phones)
