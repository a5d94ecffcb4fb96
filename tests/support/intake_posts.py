"""What a signed chat bot posts to the intake, for tests that give the API bots of their own
(their own bot id and secret): the signed POST, a group message and a help request, and the
texts they carry (a life-threatening one, an ordinary one); and the checks of a 503 that
asks for a retry and of the call-now advice in it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.support.bot import bound_payload, sign

NOT_BREATHING = "3号楼有老人晕倒了，没有呼吸了，快来人"  # life-threatening: call 120 now
ORDINARY = "谁能帮忙去超市买点菜，谢谢"
CRITICAL_MEDICAL = {"category": "medical", "urgency": "critical", "text": "3栋2单元需要帮忙"}


async def signed_post(
    c: httpx.AsyncClient, path: str, doc: dict[str, Any], *, bot: str, secret: str
) -> httpx.Response:
    """POST `doc` to `path` as bot `bot`, signed with `secret` (a new webhook-id each time)."""
    body = json.dumps(doc, ensure_ascii=False).encode()
    headers = sign(bound_payload("POST", path, body), secret=secret)
    headers |= {"x-bot-id": bot, "content-type": "application/json"}
    return await c.post(path, content=body, headers=headers)


def group_message(text: str, group_id: str = "g1") -> dict[str, Any]:
    """A new chat message (new message id) in `group_id`, from one sender."""
    return {
        "group_id": group_id,
        "message_id": uuid.uuid4().hex,
        "sender": {"id": "u1"},
        "text": text,
    }


def help_request(community: str, **over: Any) -> dict[str, Any]:
    """An ordinary errand in building b3 of `community`'s compound cp1, from group g1;
    `over` replaces any top-level field."""
    return {
        "place": {"community_id": community, "compound_id": "cp1", "building_id": "b3"},
        "category": "errand",
        "urgency": "normal",
        "text": "帮忙买点菜",
        "source": {"group_id": "g1", "message_id": uuid.uuid4().hex},
    } | over


def refused(r: httpx.Response, reason: str) -> dict[str, Any]:
    """503 with the reason and a Retry-After: not acknowledged, so the caller retries."""
    assert r.status_code == 503, (r.status_code, r.text)
    assert int(r.headers.get("retry-after", "0")) >= 1, r.headers
    detail: dict[str, Any] = r.json()["detail"]
    assert detail["reason"] == reason, detail
    return detail


def advised(detail: dict[str, Any]) -> None:
    """The refusal carries the call-now reply, and says nobody is on the way."""
    assert detail["advise_emergency_call"] is True, detail
    assert detail["emergency_number"] == "120", detail
    assert "120" in detail["reply_text"], detail
    assert "正在赶来" not in detail["reply_text"], detail  # nobody was dispatched
