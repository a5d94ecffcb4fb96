"""Raw chat message → request spec; replies; deterministic ids; merge keys."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import HTTPException
from pydantic import ValidationError

from dispatcher.api.bot_auth import DeferredClaim, releases_webhook_id
from dispatcher.api.chat_spec import spec_for_message
from dispatcher.api.command_queue import merge_key, request_id_for
from dispatcher.api.models import ChatMessageIn, HelpRequestIn
from dispatcher.api.replies import merged_reply_text, reply_text
from dispatcher.classify import classify
from dispatcher.groupchat.bots import GroupPlace
from dispatcher.record.edge.intake import WebhookId

GROUP = GroupPlace(
    community_id="siming", grid_id="g1", compound_id="tuqiang", compound_name="图强小区"
)


def msg(text: str, mid: str = "m1") -> ChatMessageIn:
    return ChatMessageIn.model_validate(
        {
            "group_id": "grid-1",
            "message_id": mid,
            "sender": {"id": "u1", "name": "王女士"},
            "text": text,
        }
    )


def test_building_hint_refines_the_groups_place() -> None:
    m = msg("5号楼二单元502有位老人摔倒了起不来，需要两个人帮忙")
    spec = spec_for_message(m, classify(m.text), GROUP, request_id="r1", bot_id="b")
    assert spec.place.building_id == "b5" and spec.place.building_name == "5号楼"
    assert spec.place.compound_id == "tuqiang" and spec.community_id == "siming"
    assert spec.contact.name == "王女士" and spec.contact.address and "502" in spec.contact.address
    assert spec.source is not None and spec.source.message_id == "m1"
    assert merge_key(spec) == "siming|tuqiang|b5|fall|critical|120|-"


def test_no_building_no_merge() -> None:
    m = msg("谁能帮忙去药店买点退烧药？")
    spec = spec_for_message(m, classify(m.text), GROUP, request_id="r2", bot_id="b")
    assert spec.place.building_id is None and merge_key(spec) is None


def test_fire_reply_tells_to_call_119_first() -> None:
    m = msg("7栋厨房着火了，浓烟很大")
    c = classify(m.text)
    spec = spec_for_message(m, c, GROUP, request_id="r3", bot_id="b")
    text = reply_text(spec, c.advice)
    assert text.startswith("请立即拨打119") and "邻居" in text
    assert "119" in merged_reply_text(spec, c.advice)


def test_request_ids_are_deterministic_per_bot_group_and_message() -> None:
    a = request_id_for("bot", "g", "m")
    assert a == request_id_for("bot", "g", "m")
    assert a != request_id_for("bot", "g2", "m") != request_id_for("bot2", "g", "m")


@pytest.mark.parametrize("field", ["message_id", "group_id"])
def test_a_nul_character_is_refused_at_the_edge(field: str) -> None:
    """Found by the API fuzz test: a NUL in a message id reached PostgreSQL (idempotency
    key) and came back as a 500. It is a 422 now, for every string of every body."""
    body = {"place": {"community_id": "siming"}, "category": "other", "urgency": "low"}
    with pytest.raises(ValidationError, match="NUL"):
        HelpRequestIn.model_validate({**body, "source": {field: "m\x001"}})
    with pytest.raises(ValidationError, match="NUL"):
        msg("谁能帮忙\x00买药")
    assert HelpRequestIn.model_validate({**body, "source": {field: "m1"}}).source is not None


def test_a_failure_gives_back_only_a_webhook_id_this_request_claimed() -> None:
    """POST /v1/requests claims its webhook-id in the intake statement: a 5xx before that
    statement claimed it must not delete the row of the earlier delivery it may replay."""
    unclaimed = DeferredClaim(WebhookId("bot", "w-1"))
    claimed = DeferredClaim(WebhookId("bot", "w-2"), claimed=True)
    down = HTTPException(503)
    crash = RuntimeError("PostgreSQL went away")
    refused = HTTPException(409)
    assert not releases_webhook_id(down, unclaimed)
    assert not releases_webhook_id(crash, unclaimed)
    assert releases_webhook_id(down, claimed) and releases_webhook_id(crash, claimed)
    assert not releases_webhook_id(refused, claimed)
    # Once its 202 is decided, nothing after (the background `done` mark cancelled at
    # shutdown, say) gives the id back: a replay must still be refused.
    answered = DeferredClaim(WebhookId("bot", "w-3"), claimed=True, answered=True)
    assert not releases_webhook_id(crash, answered)
    assert not releases_webhook_id(asyncio.CancelledError(), answered)
    # Claimed at authentication (every other route): as before.
    assert releases_webhook_id(down, None) and not releases_webhook_id(refused, None)
