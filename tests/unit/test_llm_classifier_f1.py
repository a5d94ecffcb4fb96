"""Review rev31, classifier findings 3, 4 and 5: the optional language-model backend.

3. An answer the code could not read ({"message": null}, JSON nested past the recursion
   limit) escaped as AttributeError / RecursionError: a 500 for the chat message.
4. Phones written with dots, slashes, dashes, underscores, full-width commas, in Chinese
   numerals or as +86(139)… reached the third-party model, and so did place numbers.
5. The model was asked (and awaited, up to its timeout) for a red-flag message whose answer
   is thrown away: a later 120 advice, and the text sent out for nothing.

The model is an httpx.MockTransport; the API runs with the fakes of
tests/unit/test_api_emergency_verdicts.py (the real broker and database are not needed to
see what the intake answers)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api import llm_classifier
from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.llm_classifier import LlmClassifier, mask_numbers, refine_with_llm
from dispatcher.classify import classify
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace
from dispatcher.redact import mask_phones
from dispatcher.settings import Settings
from schemas.vocab import Urgency
from tests.support.bot import BOT_ID, BOT_SECRET
from tests.unit.test_api_emergency_verdicts import GROUP, Api, Intake, Sink

RED_FLAG = "我爸刚才在家突然晕倒了，叫不醒，有没有医生护士邻居！"
PLAIN = "谁能帮我看看水龙头，一直滴水"
NESTED = b"[" * 50_000 + b"]" * 50_000


def body(content: Any) -> bytes:
    return json.dumps({"choices": [{"message": {"content": content}}]}).encode()


UNREADABLE = {
    "message-null": json.dumps({"choices": [{"message": None}]}).encode(),
    "message-a-string": json.dumps({"choices": [{"message": "hi"}]}).encode(),
    "deeply-nested-body": NESTED,
    "deeply-nested-content": body(NESTED.decode()),
}

Seen = list[dict[str, Any]]


def model(reply: bytes, seen: Seen) -> httpx.AsyncClient:
    """A chat-completions endpoint answering `reply`, keeping each request body."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=reply, headers={"content-type": "application/json"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def settings() -> Settings:
    return Settings(llm_base_url="http://llm.test/v1", llm_api_key=SecretStr("k"))


class State:
    llm: LlmClassifier


def state_with(reply: bytes, seen: Seen) -> State:
    state = State()
    state.llm = LlmClassifier(settings(), model(reply, seen))
    return state


# ------------------------------------------------------------ 3. an unreadable answer


@pytest.mark.parametrize("reply", list(UNREADABLE.values()), ids=list(UNREADABLE))
async def test_an_unreadable_answer_leaves_the_rules_answer(reply: bytes) -> None:
    seen: Seen = []
    rules = classify(PLAIN)
    llm = LlmClassifier(settings(), model(reply, seen))
    assert await llm.refine(PLAIN, rules) == rules
    assert len(seen) == 1  # it was asked, and its answer could not be read


async def test_any_failure_after_the_answer_leaves_the_rules_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever goes wrong in the model's step (here: merging a good answer), the hook
    answers with the rules' verdict instead of raising into the route."""

    def broken(*_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(llm_classifier, "merge_llm", broken)
    rules = classify(PLAIN)
    state = state_with(body(json.dumps({"is_request": True, "urgency": "urgent"})), [])
    assert await refine_with_llm(state, settings(), PLAIN, rules) == rules


# ------------------------------------------------------------ 5. a red flag: not asked


async def test_a_red_flag_is_answered_without_asking_the_model() -> None:
    seen: Seen = []
    rules = classify(RED_FLAG)
    assert rules.advise_emergency_call
    state = state_with(body(json.dumps({"is_request": True})), seen)
    assert await refine_with_llm(state, settings(), RED_FLAG, rules) == rules
    assert seen == []  # no wait for it, and the text never left


# ------------------------------------------------------------ 4. what the model sees

PHONES = [
    "13912345678",
    "139-1234-5678",
    "139 1234 5678",
    "+86 139 1234 5678",
    "139.1234.5678",
    "139/1234/5678",
    "139—1234—5678",
    "139_1234_5678",
    "139，1234，5678",
    "一三九一二三四五六七八",
    "幺三九一二三四五六七八",
    "幺三九 一二三四 五六七八",
    "+86(139)1234-5678",
    "１３９１２３４５６７８",
]


@pytest.mark.parametrize("phone", PHONES)
def test_a_phone_however_written_is_masked_for_the_model_and_the_logs(phone: str) -> None:
    masked = mask_numbers(f"水管爆了，电话{phone}，快来人")
    assert masked == f"水管爆了，电话{'#' * len(phone)}，快来人"
    assert mask_phones(f"电话{phone}。") == "电话[phone]。"


def test_the_logs_masker_leaves_times_and_short_numbers() -> None:
    for line in ("2024-01-02T13:45:12.123456+00:00 offset=1234", "13:45:12 pid=13579"):
        assert mask_phones(line) == line


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("住3栋502，电话139-1234-5678", "住#栋###，电话#############"),
        ("十二号楼三单元1201", "##号楼#单元####"),
        ("B座12楼", "#座##楼"),
        ("3-2-502 漏水了", "####### 漏水了"),
        ("5#楼302室", "##楼###室"),
        # What the model needs stays: a temperature, a number called, a count.
        ("孩子发烧39度，打了120，需要两三个人", "孩子发烧39度，打了120，需要两三个人"),
    ],
)
def test_place_numbers_are_masked_for_the_model(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked


async def test_the_model_sees_no_phone_and_no_place_number() -> None:
    seen: Seen = []
    text = "谁能帮忙修水管，3栋2单元502，电话幺三九一二三四五六七八 或 139.1234.5678"
    llm = LlmClassifier(settings(), model(body(json.dumps({"is_request": True})), seen))
    await llm.refine(text, classify(text))
    sent = seen[0]["messages"][1]["content"]
    assert sent == "谁能帮忙修水管，#栋#单元###，电话########### 或 #############"


# ------------------------------------------------------------ through the API


ModelApi = Callable[[bytes, Seen], Awaitable[Api]]


@pytest.fixture
async def model_api() -> AsyncIterator[ModelApi]:
    """The API of test_api_emergency_verdicts with the model backend on, answering `reply`;
    an exception in the app is a 500 answer (as a server gives), not raised into the test."""
    clients: list[httpx.AsyncClient] = []

    async def start(reply: bytes, seen: Seen) -> Api:
        config = settings()
        bot = BotConfig(
            bot_id=BOT_ID,
            secrets=(SecretStr(BOT_SECRET),),
            communities=frozenset({"comm-a"}),
            groups={"grid-1": GroupPlace(**GROUP)},
            rate_per_minute=1e6,
            burst=1e6,
            group_rate_per_minute=1e6,
            group_burst=1e6,
        )
        sink, intake = Sink(), Intake()
        deps = ApiDeps(settings=config, sink=sink, bots=BotRegistry.from_list([bot]))
        deps._pool = intake
        app = create_app(config, deps)
        app.state.llm = LlmClassifier(config, model(reply, seen))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://t")
        clients.append(client)
        return Api(client, sink, intake)

    yield start
    for client in clients:
        await client.aclose()


async def post(api: Api, text: str) -> httpx.Response:
    payload = {
        "group_id": "grid-1",
        "message_id": f"m-{len(api.sink.sent)}",
        "sender": {"id": "u1", "name": "王女士"},
        "text": text,
    }
    return await api.bot("/v1/messages", payload)


@pytest.mark.parametrize("reply", list(UNREADABLE.values()), ids=list(UNREADABLE))
async def test_an_unreadable_answer_is_no_500(model_api: ModelApi, reply: bytes) -> None:
    seen: Seen = []
    api = await model_api(reply, seen)
    answer = await post(api, PLAIN)
    assert answer.status_code == 202, answer.text
    assert answer.json()["urgency"] == classify(PLAIN).urgency.value
    assert len(api.sink.specs()) == 1 and len(seen) == 1


async def test_a_red_flag_chat_message_gets_120_without_the_model(model_api: ModelApi) -> None:
    seen: Seen = []
    api = await model_api(UNREADABLE["message-null"], seen)
    answer = await post(api, RED_FLAG)
    assert answer.status_code == 202, answer.text
    out = answer.json()
    assert out["advise_emergency_call"] is True and out["emergency_number"] == "120"
    assert out["urgency"] == Urgency.CRITICAL.value and "120" in out["reply_text"]
    assert len(api.sink.specs()) == 1  # dispatched
    assert seen == []  # the model was never asked
