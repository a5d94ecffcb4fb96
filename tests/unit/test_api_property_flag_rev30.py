"""Every intake carries "tell 物业 too" onto the request it queues (review finding: the
classifier's `notify_property` stopped at the classifier; `RequestSpec` had no field for
it). A chat message and a contact card take the classifier's verdict, a bot's structured
request its red flags (or an urgent repair); the flag is left out of the JSON while false,
so records from before decode and a request without it keeps its bytes.

Through the real app, PostgreSQL's intake statement and Kafka faked as in
test_api_emergency_verdicts.py (the real ones: tests/integration)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dispatcher.api.chat_spec import property_concern
from dispatcher.classify import classify
from schemas.commands import Command, SubmitRequest
from schemas.requests import RequestSpec
from schemas.vocab import Category, Urgency
from tests.unit.test_api_emergency_verdicts import Api, api, cards, press

__all__ = ["api", "cards"]  # the fixtures, shared

FIRE = "楼道着火了"
BURST_PIPE = "楼上水管爆了，水漫到楼道了，谁会修？"
ERRAND = "谁能帮忙去药店买点退烧药？"


def queued(api: Api) -> RequestSpec:
    [spec] = api.sink.specs()
    return spec


@pytest.mark.parametrize(("text", "flag"), [(FIRE, True), (BURST_PIPE, True), (ERRAND, False)])
async def test_a_chat_message_carries_the_classifiers_verdict(
    api: Api, text: str, flag: bool
) -> None:
    assert classify(text).notify_property is flag
    await api.chat(text)
    assert queued(api).notify_property is flag


async def test_a_fire_in_the_stairwell_still_tells_them_to_call_119(api: Api) -> None:
    answer = await api.chat(FIRE)
    assert answer["advise_emergency_call"] is True and answer["emergency_number"] == "119"
    spec = queued(api)
    assert spec.notify_property and spec.emergency() == "119"


@pytest.mark.parametrize(
    ("fields", "flag"),
    [
        # A red flag in the words: a fire whatever the bot chose.
        ({"category": "other", "urgency": "normal", "text": "家里着火了"}, True),
        ({"category": "other", "urgency": "urgent", "text": "电梯困人了，有人被关在里面"}, True),
        # An urgent repair is 物业's business: the bot decided kind and urgency.
        ({"category": "repair", "urgency": "urgent", "text": "水管漏水"}, True),
        ({"category": "repair", "urgency": "normal", "text": "水龙头有点滴水"}, False),
        ({"category": "errand", "urgency": "urgent", "text": ERRAND}, False),
    ],
)
async def test_a_structured_request_carries_its_red_flags_or_an_urgent_repair(
    api: Api, fields: dict[str, Any], flag: bool
) -> None:
    await api.structured(**fields, skills=[])
    assert queued(api).notify_property is flag


@pytest.mark.parametrize(
    ("body", "flag"),
    [
        ({"text": "家里着火了"}, True),
        ({"category": "errand", "text": "家里燃气泄漏了"}, True),  # the words, under any button
        ({"category": "medical"}, False),
        ({"category": "errand", "text": "帮我买点药"}, False),
    ],
)
async def test_a_contact_card_carries_the_classifiers_verdict(
    api: Api, cards: None, body: dict[str, Any], flag: bool
) -> None:
    await press(api, "hhA-token-0123456789", body)
    assert queued(api).notify_property is flag


async def test_the_flag_travels_in_the_command_and_only_when_set(api: Api) -> None:
    await api.chat(FIRE)
    await api.chat(ERRAND, "grid-2")
    commands = [json.loads(v) for v in api.sink.sent]
    flags = [c["body"]["spec"].get("notify_property") for c in commands]
    assert flags == [True, None]  # false is left out: earlier readers still read it
    decoded = [Command.model_validate_json(v).body for v in api.sink.sent]
    assert [b.spec.notify_property for b in decoded if isinstance(b, SubmitRequest)] == [
        True,
        False,
    ]


def test_a_record_from_before_decodes_without_the_flag() -> None:
    spec = RequestSpec.model_validate(
        {
            "request_id": "r1",
            "community_id": "comm-a",
            "place": {"community_id": "comm-a"},
            "category": "repair",
            "urgency": "urgent",
        }
    )
    assert spec.notify_property is False
    assert "notify_property" not in spec.model_dump(mode="json")
    assert RequestSpec.model_validate_json(spec.model_dump_json()) == spec


@pytest.mark.parametrize(
    ("category", "urgency", "flag"),
    [
        (Category.REPAIR, Urgency.URGENT, True),
        (Category.REPAIR, Urgency.CRITICAL, True),
        (Category.REPAIR, Urgency.NORMAL, False),
        (Category.OTHER, Urgency.CRITICAL, False),  # no red flag said: not theirs
    ],
)
def test_an_urgent_repair_is_property_managements_whoever_set_its_urgency(
    category: Category, urgency: Urgency, flag: bool
) -> None:
    """A kind and urgency raised after the classifier (the language model, a card's
    household tags, a bot) still bring 物业 in when the catalogue says so."""
    assert property_concern(category, urgency, None) is flag
