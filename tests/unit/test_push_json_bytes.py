"""Push bodies are written by orjson (`channels.base.json_bytes`, issue 18): the same bytes
the standard library's encoder gave for everything a push carries, so receivers, their
signatures and `bench notify --compare` see no change."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.push.channels.base import json_bytes
from dispatcher.push.model import PushKind
from schemas.vocab import Skill


def stdlib(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# Any text but lone surrogates (neither encoder writes those: see below), with the control
# characters, quotes, backslashes, U+2028/9 and CJK that offer texts and names may hold.
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40) | st.sampled_from(
    [
        "",
        '"\\\n\r\t\b\f\x00\x1f\x7f',
        "\u2028\u2029",
        "【危急】3号楼 送医\n能来：https://x/o/a",
        "é😀",
    ]
)
scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | texts
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(texts, inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_the_same_bytes_as_the_standard_library(payload: Any) -> None:
    assert json_bytes(payload) == stdlib(payload)


def test_a_webhook_batch_as_the_channel_builds_it() -> None:
    entry = {
        "request_id": "r-1",
        "offer_id": "o-1",
        "helper_id": "h-1",
        "community_id": "c-1",
        "accept_url": "https://help.example/o/" + "A" * 250,
        "delivery_id": "e-1:0",
        "kind": PushKind.OFFER.value,
        "recipient": "h-1",
        "title": "【危急】幸福小区3号楼 送医",
        "text": "需要2位邻居帮忙（有车能开车、护士）\n如有生命危险，请立即拨打120。",
    }
    payload = {
        "type": "push.batch",
        "timestamp": "2026-12-05T07:00:00Z",
        "data": {"deliveries": [entry] * 12},
    }
    assert json_bytes(payload) == stdlib(payload)


def test_str_enums_and_int_keys_as_the_standard_library_writes_them() -> None:
    payload = {"skills": [Skill.DRIVING, Skill.NURSE], "kind": PushKind.OFFER, 3: "three"}
    assert json_bytes(payload) == stdlib(payload)


def test_what_the_standard_library_refused_is_refused() -> None:
    for bad in ({"at": object()}, {"text": "\ud800"}):
        with pytest.raises((TypeError, ValueError)):
            stdlib(bad)
        with pytest.raises((TypeError, ValueError)):
            json_bytes(bad)
