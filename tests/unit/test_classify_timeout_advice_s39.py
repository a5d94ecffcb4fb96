"""Session 39: a message the classifier could not read in time got a bare 503
`classify_timeout`, no advice, though it might be "我爸没有呼吸了". Its 503 now carries the
call-now reply as an emergency's refusals do (`ratelimit.with_advice`), said for the case
life is at risk: 120 (119, 110) now, then retry.

Through the real app with the fakes of tests/unit/test_api_emergency_verdicts.py; the rules
classifier is replaced by one that never finishes until the test ends, so the limit (set
tiny) is always what answers: nothing here depends on how fast anything runs."""

from __future__ import annotations

from tests.support.stuck_classifier import WORDS, assert_call_now, stuck_classifier
from tests.unit.test_api_emergency_verdicts import Api, api, cards

__all__ = ["api", "cards", "stuck_classifier"]  # the fixtures, shared


async def test_a_chat_message_not_read_in_time_is_503_with_the_call_now_reply(api: Api) -> None:
    payload = {"group_id": "grid-1", "message_id": "m1", "sender": {"id": "u1"}, "text": WORDS}
    answer = await api.bot("/v1/messages", payload)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "1"
    assert_call_now(answer.json()["detail"])
    assert api.sink.sent == []  # nothing dispatched: the bot retries


async def test_a_card_press_not_read_in_time_is_503_with_the_call_now_reply(
    api: Api, cards: None
) -> None:
    answer = await api.client.post("/card/hhA-token-0123456789", json={"text": WORDS})
    assert answer.status_code == 503, answer.text
    assert_call_now(answer.json()["detail"])
    assert api.sink.sent == []
