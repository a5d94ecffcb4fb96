"""Session 38 (audit F6): phones in some forms reached the third-party model unmasked.

`mask_numbers` (what the optional language model is sent) read digits as [0-9０-９] and
Chinese 一…九/幺/两 only, with at most two separator characters between digits, so
circled digits 「①③⑨…」, financial numerals 「壹叁玖…」, keycaps 1️⃣3️⃣9️⃣…, mathematical bold
𝟏𝟑𝟗… and 「139   1234   5678」 (three spaces) went out as typed. Now every digit form is
folded to a plain digit first (`dispatcher.redact.fold_digits`), the financial numerals are
digits, and a whitespace run around a separator counts as one gap. The log masker
(`mask_phones`) shares `PHONE`: it still masks what it did and leaves times and ordinary
text alone."""

from __future__ import annotations

import json
import re
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dispatcher import redact
from dispatcher.api import llm_classifier
from dispatcher.api.llm_classifier import LlmClassifier, mask_numbers
from dispatcher.classify import classify
from dispatcher.redact import PHONE, mask_phones, masked
from dispatcher.settings import Settings

# The audit's five forms (all of 139 1234 5678), then their near relatives.
FIVE = [
    "①③⑨①②③④⑤⑥⑦⑧",
    "壹叁玖壹贰叁肆伍陆柒捌",
    "1️⃣3️⃣9️⃣1️⃣2️⃣3️⃣4️⃣5️⃣6️⃣7️⃣8️⃣",
    "𝟏𝟑𝟗𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖",
    "139   1234   5678",
]
MORE = [
    "139 - 1234 - 5678",
    "1\u20e33\u20e39\u20e31\u20e32\u20e33\u20e34\u20e35\u20e36\u20e37\u20e38\u20e3",  # no FE0F
    "❶❸❾❶❷❸❹❺❻❼❽",
    "١٣٩١٢٣٤٥٦٧٨",  # Arabic-Indic digits
    "壹叁玖 壹贰叁肆 伍陆柒捌",
    "八六 幺三九一二三四五六七八",
    "139\n1234\n5678",
    "⑴⑶⑼⑴⑵⑶⑷⑸⑹⑺⑻",
]
# Digit strings a reader could copy back out of the masked text.
REVEALING = re.compile(r"[0-9]{3,}|[一二三四五六七八九幺壹贰叁肆伍陆柒捌玖]{3,}")


@pytest.mark.parametrize("phone", FIVE + MORE)
def test_a_phone_in_any_digit_form_is_masked_for_the_model(phone: str) -> None:
    out = mask_numbers(f"水管爆了，电话{phone}，快来人")
    assert out.startswith("水管爆了，电话#") and out.endswith("#，快来人"), out
    assert not REVEALING.search(out), out


@pytest.mark.parametrize(
    "phone", ["壹叁玖壹贰叁肆伍陆柒捌", "139   1234   5678", "139 - 1234 - 5678"]
)
def test_the_logs_masker_masks_the_forms_it_can_see(phone: str) -> None:
    assert mask_phones(f"电话{phone}。") == "电话[phone]。"


def test_the_folding_touches_only_digits() -> None:
    assert redact.fold_digits("①③⑨，１２３！𝟏𝟑 1️⃣⑩㊀") == "139，123！13 110一"
    text = "谁能帮忙？（急）收拾房间～"
    assert redact.fold_digits(text) == text  # punctuation and letters as they were


# (text, what the model is sent): as before this change (checked against HEAD's
# redact.py and llm_classifier.py), except full-width digits now go as plain ones and a
# place in financial numerals ("壹号院") is masked like one in 一二三.
ORDINARY = [
    ("孩子发烧39度，打了120，需要两三个人", "孩子发烧39度，打了120，需要两三个人"),
    ("帮我收拾房间，大家陆续来，队伍不用排", "帮我收拾房间，大家陆续来，队伍不用排"),
    ("壹号院的王阿姨", "#号院的王阿姨"),
    (
        "2024-01-02T13:45:12.123456+00:00 offset=1234",
        "##########T13:45:#########+00:00 offset=1234",
    ),
    ("13:45:12 pid=13579", "13:45:12 pid=#####"),
    ("电话１２３，在１楼", "电话123，在#楼"),
]


@pytest.mark.parametrize(("text", "sent"), ORDINARY)
def test_ordinary_text_is_masked_no_more_than_before(text: str, sent: str) -> None:
    assert mask_numbers(text) == sent
    assert mask_phones(text) == text  # no phone in any of them


def test_masked_free_text_hides_a_financial_numeral_phone() -> None:
    assert "壹" not in masked("街道王主任壹叁玖壹贰叁肆伍陆柒捌")


def _inner(op: Any, av: Any) -> list[Any]:
    """The subpatterns of one parsed node, atomic groups and possessive repeats included."""
    if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT):
        return [av[2]]
    if op is sre_parse.SUBPATTERN:
        return [av[-1]]
    if op is sre_parse.ATOMIC_GROUP:
        return [av]
    if op is sre_parse.BRANCH:
        return list(av[1])
    if op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
        return [av[1]]
    return []


def _unbounded(parsed: Any) -> bool:
    """An open-ended repeat anywhere in a parsed pattern."""
    for op, av in parsed:
        repeats = op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT)
        if repeats and av[1] == sre_parse.MAXREPEAT:
            return True
        if any(_unbounded(inner) for inner in _inner(op, av)):
            return True
    return False


def test_the_number_patterns_repeat_a_bounded_number_of_times() -> None:
    assert _unbounded(sre_parse.parse(r"(?>\s{0,8}(?:a|b+))"))  # the check sees inside
    for pattern in (PHONE, llm_classifier._LONG_NUMBER):
        assert not _unbounded(sre_parse.parse(pattern.pattern)), pattern.pattern


def test_long_runs_of_gaps_and_digits_are_read() -> None:
    """No clock: these end (linear patterns) and give the expected masks."""
    spaced = "1   " * 3000
    assert "1" not in mask_numbers(spaced)
    near_miss = ("1" + " " * 8 + "-" * 3) * 3000  # no gap of three marks: never a number
    assert mask_numbers(near_miss) == near_miss
    assert mask_phones(near_miss) == near_miss


Seen = list[dict[str, Any]]


async def test_the_model_receives_none_of_them() -> None:
    seen: Seen = []
    reply = json.dumps({"choices": [{"message": {"content": '{"is_request": true}'}}]})

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=reply, headers={"content-type": "application/json"})

    settings = Settings(
        llm_base_url="http://llm.test/v1", llm_api_key=SecretStr("k"), llm_cache_size=0
    )
    llm = LlmClassifier(settings, httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    try:
        for phone in FIVE + MORE:
            text = f"谁能帮忙修水管，打我电话{phone}，谢谢"
            await llm.refine(text, classify(text))
    finally:
        await llm.close()
    sent = [body["messages"][1]["content"] for body in seen]
    assert len(sent) == len(FIVE + MORE)
    for phone, content in zip(FIVE + MORE, sent, strict=True):
        assert phone not in content and not REVEALING.search(content), content
        assert content.startswith("谁能帮忙修水管，打我电话#") and content.endswith("#，谢谢")
