"""`POST /v1/requests` below the framework (`api/intake_route.py`) answers exactly as the
framework's stack does: the same status, headers and body, and the same request metrics,
for every answer the middlewares and exception handlers it replaces gave (body limits,
refusals, validation errors, the 202, an unhandled error). Each request is sent twice,
through the app (the fast path) and through the layer below it (the framework's path),
PostgreSQL and Kafka stubbed (what the route does with them is tested in
tests/integration)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from dispatcher.api import server_timing
from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.intake_route import IntakeRoute
from dispatcher.api.ratelimit import RateLimiter
from dispatcher.groupchat.bots import BotConfig, BotRegistry
from dispatcher.ops.api_metrics import REGISTRY
from dispatcher.settings import Settings
from tests.support import builders
from tests.support.bot import BOT_ID, BOT_SECRET, bound_payload, sign

BOT = BOT_ID
SECRET = BOT_SECRET
LIMIT = 4096
PHONE = "13912345678"


class Sink:
    async def send(self, topic: str, key: str, value: bytes) -> None: ...


class Pool:
    """The intake statement's answer: a new request, its key claimed (`replayed`: its
    webhook-id was claimed before). Every statement is counted."""

    def __init__(self) -> None:
        self.fail: Exception | None = None
        self.replayed = False
        self.statements = 0

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any]:
        self.statements += 1
        if self.fail is not None:
            raise self.fail
        return {
            "replayed": self.replayed,
            "claimed": True,
            "earlier": None,
            "repeat_at": None,
            "taken": False,
        }

    async def execute(self, query: str, *args: Any) -> str:
        self.statements += 1
        return "UPDATE 0"

    async def acquire(self) -> Pool:  # its own connection
        return self

    async def release(self, connection: Pool) -> None: ...

    def is_closed(self) -> bool:
        return False


ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _app(**limits: float) -> Any:
    settings = Settings(max_body_bytes=LIMIT)  # type: ignore[call-arg]
    bot = BotConfig(
        bot_id=BOT,
        secrets=(SecretStr(SECRET),),
        communities=frozenset({"comm-a"}),
        **({"rate_per_minute": 1e6, "burst": 1e6} | limits),
    )
    deps = ApiDeps(settings=settings, sink=Sink(), bots=BotRegistry.from_list([bot]))
    deps._pool = Pool()  # type: ignore[assignment]
    return create_app(settings, deps)


@pytest.fixture
def app() -> Any:
    return _app()


def _stack(app: Any) -> tuple[ASGI, IntakeRoute]:
    """The app's stack from its top, and the intake route's layer in it."""
    stack = app.build_middleware_stack()
    layer = stack
    while not isinstance(layer, IntakeRoute):
        layer = layer.app
    return stack, layer


def _layers(app: Any) -> tuple[ASGI, ASGI]:
    """The app's stack from its top, and the layer below the intake route."""
    stack, route = _stack(app)
    return stack, route.app


def _scope(app: Any, headers: dict[str, str], query: bytes = b"") -> dict[str, Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/requests",
        "raw_path": b"/v1/requests",
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"t"), *raw],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
        "app": app,
        "state": {},
    }


async def _call(asgi: ASGI, scope: dict[str, Any], chunks: list[bytes]) -> dict[str, Any]:
    parts = list(chunks)

    async def receive() -> dict[str, Any]:
        body = parts.pop(0) if parts else b""
        return {"type": "http.request", "body": body, "more_body": bool(parts)}

    out: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = sorted(message["headers"])
        else:
            out["body"] += message.get("body", b"")

    try:
        await asgi(dict(scope), receive, send)
    except Exception as exc:
        out["raised"] = type(exc).__name__
    return out


def _metrics() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in REGISTRY.collect()
        if family.name.startswith("dispatch_http_request")
        for s in family.samples
        if not s.name.endswith("_bucket")
    }


def _delta(before: dict[Any, float], after: dict[Any, float]) -> dict[Any, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


def _sum_delta(delta: dict[Any, float]) -> dict[Any, float]:
    return {k: v for k, v in delta.items() if not k[0].endswith("_sum")}  # durations differ


def signed(body: bytes, **extra: str) -> dict[str, str]:
    msg_id = f"msg_{extra.pop('id', 'x')}"
    headers = sign(bound_payload("POST", "/v1/requests", body), secret=SECRET, msg_id=msg_id)
    return {"content-type": "application/json", **headers, **extra}


def _request(**extra: Any) -> bytes:
    payload = builders.request("comm-a", **extra)
    payload["source"] = {"bot_id": BOT, "group_id": "g1", "message_id": "m-fixed"}
    return json.dumps(payload, ensure_ascii=False).encode()


def _cases() -> list[tuple[str, dict[str, str], list[bytes], bytes]]:
    good = _request()
    elsewhere = _request(place=builders.place("comm-b"))
    bad_json = b'{"place": '
    # Refused with their value (once echoed back as `input`): a phone the pattern refuses,
    # half an emoji (a lone surrogate: it has no UTF-8, the echo was a 500 elsewhere).
    bad_phone = _request(contact={"phone": f"电话{PHONE}"})
    half_emoji = _request(text="晕倒了 😀").replace("😀".encode(), b"\\ud83d")
    return [
        ("accepted", signed(good, id="1"), [good], b""),
        ("accepted in chunks", signed(good, id="2"), [good[:100], good[100:]], b""),
        ("with a key", signed(good, id="3", **{"idempotency-key": "k1"}), [good], b""),
        ("key too long", signed(good, id="4", **{"idempotency-key": "k" * 129}), [good], b""),
        ("unsigned", {"content-type": "application/json"}, [good], b""),
        ("bad signature", signed(good + b" ", id="5"), [good], b""),
        ("unknown bot", {**signed(good, id="6"), "x-bot-id": "nobody"}, [good], b""),
        ("bad json", signed(bad_json, id="7"), [bad_json], b""),
        ("not json", signed(good, id="8", **{"content-type": "text/plain"}), [good], b""),
        ("empty", signed(b"", id="9"), [b""], b""),
        ("wrong community", signed(elsewhere, id="10"), [elsewhere], b""),
        ("bad length", {**signed(good, id="11"), "content-length": "12x"}, [good], b""),
        ("declared too large", {"content-length": str(LIMIT + 1)}, [b"x"], b""),
        ("streamed too large", signed(good, id="12"), [b" " * LIMIT, b" " * 10], b""),
        ("staff, bad token", {"authorization": "Bearer nope"}, [good], b""),
        ("a query string", signed(good, id="13"), [good], b"x=1"),
        ("a refused phone", signed(bad_phone, id="14"), [bad_phone], b""),
        ("half an emoji", signed(half_emoji, id="15"), [half_emoji], b""),
    ]


# Cases by name, built (signed) when the test runs: signed at collection, they were stale
# (401, more than 300 s old) by the time a full run reached them, and both paths' equal 401s
# hid what each case is about (session 37's CI).
CASE_NAMES = [c[0] for c in _cases()]


def _case(name: str) -> tuple[str, dict[str, str], list[bytes], bytes]:
    return next(c for c in _cases() if c[0] == name)


@pytest.mark.parametrize("name", CASE_NAMES)
async def test_the_fast_path_answers_as_the_framework_does(app: Any, name: str) -> None:
    _, headers, chunks, query = _case(name)
    top, framework = _layers(app)
    answers, metrics = [], []
    for asgi in (top, framework):
        scope = _scope(app, {**headers, "x-bot-id": headers.get("x-bot-id", BOT)}, query)
        before = _metrics()
        answers.append(await _call(asgi, scope, chunks))
        metrics.append(_sum_delta(_delta(before, _metrics())))
    assert answers[0] == answers[1]
    assert metrics[0] == metrics[1] and metrics[0]
    assert "raised" not in answers[0]
    if name.startswith("accepted"):
        assert answers[0]["status"] == 202, answers[0]


@pytest.mark.parametrize("name", ["a refused phone", "half an emoji"])
async def test_a_422_names_the_field_and_never_quotes_the_body(app: Any, name: str) -> None:
    _, headers, chunks, _ = _case(name)
    answer = await _call(
        app.build_middleware_stack(), _scope(app, headers | {"x-bot-id": BOT}), chunks
    )
    assert answer["status"] == 422, answer
    errors = json.loads(answer["body"])["detail"]
    assert errors and all(set(e) == {"type", "loc", "msg"} for e in errors), errors
    assert PHONE.encode() not in answer["body"] and "晕倒".encode() not in answer["body"]


async def test_the_intake_does_not_go_down_the_framework(app: Any) -> None:
    stack, layer = _stack(app)

    async def framework(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError(f"{scope['method']} {scope['path']} reached the framework")

    layer.app = framework
    good = _request()
    answer = await _call(stack, _scope(app, {**signed(good, id="f"), "x-bot-id": BOT}), [good])
    assert answer["status"] == 202
    other = _scope(app, {**signed(good, id="g"), "x-bot-id": BOT}, b"x=1")
    assert (await _call(stack, other, [good]))["status"] == 500  # with a query: the framework's


async def test_an_unhandled_error_is_the_same_500(app: Any) -> None:
    """The framework's 500 comes from ServerErrorMiddleware, above both paths: each lets
    the error through, counted as a 500."""
    app.state.deps._pool.fail = RuntimeError("boom")
    top, framework = _layers(app)
    good = _request()
    answers, metrics = [], []
    for n, asgi in enumerate((top, framework)):
        before = _metrics()
        scope = _scope(app, {**signed(good, id=f"e{n}"), "x-bot-id": BOT})
        answers.append(await _call(asgi, scope, [good]))
        metrics.append(_sum_delta(_delta(before, _metrics())))
    assert answers[0]["status"] == 500 and answers[0]["body"] == b"Internal Server Error"
    assert answers[0]["raised"] == answers[1]["raised"] == "RuntimeError"
    assert "status" not in answers[1]  # below ServerErrorMiddleware: nothing sent yet
    assert metrics[0] == metrics[1]
    assert any(dict(labels).get("status") == "500" for _, labels in metrics[0])


def _refusal(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["status"] == 503 and "raised" not in answer, answer
    assert (b"retry-after", b"5") in answer["headers"], answer["headers"]
    detail: dict[str, Any] = json.loads(answer["body"])["detail"]
    assert detail["reason"] == "database_unavailable", detail
    return detail


async def test_the_database_out_of_reach_is_the_same_503_on_both_paths(app: Any) -> None:
    """The intake answers it itself (a life-threatening request's 503 carries the call-now
    advice), below the framework and through it alike."""
    app.state.deps._pool.fail = ConnectionRefusedError(111, "Connection refused")
    top, framework = _layers(app)
    good = _request()
    answers = []
    for n, asgi in enumerate((top, framework)):
        scope = _scope(app, {**signed(good, id=f"d{n}"), "x-bot-id": BOT})
        answers.append(await _call(asgi, scope, [good]))
    assert answers[0] == answers[1]
    assert _refusal(answers[0])["advise_emergency_call"] is True


async def test_an_outage_the_route_does_not_answer_is_the_apps_503_below_the_framework(
    app: Any,
) -> None:
    """What escapes the route is answered by the app's handler (`errors.database_unreachable`),
    which the fast path finds as the framework does: a 503, never the bare 500."""
    stack, layer = _stack(app)

    async def down(request: Any) -> Any:
        # PostgreSQL's own error: an OSError raised outside asyncpg is a 500 since session 39.
        raise asyncpg.exceptions.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        )

    layer.endpoint = down
    good = _request()
    answer = await _call(stack, _scope(app, {**signed(good, id="u"), "x-bot-id": BOT}), [good])
    assert "advise_emergency_call" not in _refusal(answer)


@pytest.fixture
def timed_app(app: Any) -> Any:
    """The same app with `DISPATCH_SERVER_TIMING` on."""
    settings = Settings(max_body_bytes=LIMIT, server_timing=True)  # type: ignore[call-arg]
    return create_app(settings, app.state.deps)


def _timing(answer: dict[str, Any]) -> list[tuple[str, float]]:
    values = [v.decode() for k, v in answer["headers"] if k == server_timing.HEADER]
    assert len(values) == 1, answer["headers"]
    out = []
    for metric in values[0].split(", "):
        name, dur = metric.split(";dur=")
        out.append((name, float(dur)))
    return out


async def test_server_timing_names_each_phase_of_an_accepted_request(timed_app: Any) -> None:
    good = _request()
    scope = _scope(timed_app, {**signed(good, id="t1"), "x-bot-id": BOT})
    answer = await _call(timed_app.build_middleware_stack(), scope, [good])
    assert answer["status"] == 202
    phases = _timing(answer)
    names = [name for name, _ in phases]
    assert names == ["auth", "parse", "prepare", "statement", "queue", "total"]
    assert all(ms >= 0 for _, ms in phases)
    total = dict(phases)["total"]
    assert sum(ms for name, ms in phases if name != "total") <= total + 0.01  # 3 decimals each
    assert server_timing._CURRENT.get() is None  # nothing left in the caller's context


async def test_server_timing_of_a_refusal_has_the_phases_it_reached(timed_app: Any) -> None:
    good = _request()
    scope = _scope(timed_app, {**signed(good + b" ", id="t2"), "x-bot-id": BOT})
    answer = await _call(timed_app.build_middleware_stack(), scope, [good])
    assert answer["status"] == 401
    assert [name for name, _ in _timing(answer)] == ["total"]


async def test_no_server_timing_by_default(app: Any) -> None:
    good = _request()
    scope = _scope(app, {**signed(good, id="t3"), "x-bot-id": BOT})
    answer = await _call(app.build_middleware_stack(), scope, [good])
    assert answer["status"] == 202
    assert all(k != server_timing.HEADER for k, _ in answer["headers"])


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (None, {}),
        ("", {}),
        ("auth;dur=0.25, total;dur=1.5", {"auth": 0.25, "total": 1.5}),
        ("prepare;dur=1, statement;dur=2, prepare;dur=3", {"prepare": 4.0, "statement": 2.0}),
        ('cache;desc="hit", db;dur="53.2";desc=x', {"db": 53.2}),
        ("db;dur=fast, app;DUR=1", {"app": 1.0}),
    ],
)
def test_server_timing_values_parse(value: str | None, parsed: dict[str, float]) -> None:
    assert server_timing.parse(value) == parsed


async def test_a_life_threatening_request_is_one_statement_before_its_202(app: Any) -> None:
    """Its webhook-id is claimed in the intake statement, no claim of its own before it:
    an emergency waits for no PostgreSQL round trip more than any request. (The webhook-id
    purge, a request's housekeeping every few minutes, is not this one's turn.)"""
    app.state.deps.last_purge = app.state.deps.wall()
    good = _request()  # life-threatening (the builder's default)
    scope = _scope(app, {**signed(good, id="one"), "x-bot-id": BOT})
    answer = await _call(app.build_middleware_stack(), scope, [good])
    assert answer["status"] == 202, answer
    assert json.loads(answer["body"])["advise_emergency_call"] is True
    assert app.state.deps._pool.statements == 1


async def test_the_emergency_allowance_is_charged_once_a_request_is_taken_in() -> None:
    """Replays (409 in the statement) charge nothing; each request taken in takes a token;
    beyond the allowance: 429 with the call-now reply, before any statement."""
    app = _app(rate_per_minute=0.01, burst=1, emergency_rate_per_minute=0.01, emergency_burst=2)
    pool = app.state.deps._pool
    stack = app.build_middleware_stack()

    async def post(n: int) -> dict[str, Any]:
        body = _request(place=builders.place("comm-a", building=f"b{n}"))
        scope = _scope(app, {**signed(body, id=f"a{n}"), "x-bot-id": BOT})
        return await _call(stack, scope, [body])

    pool.replayed = True
    for n in range(5):
        replay = await post(n)
        assert replay["status"] == 409 and b"replayed" in replay["body"], replay
    pool.replayed = False
    assert [(await post(n))["status"] for n in (10, 11)] == [202, 202]
    before = pool.statements
    over = await post(12)
    assert over["status"] == 429, over
    detail = json.loads(over["body"])["detail"]
    assert detail["reason"] == "emergency_rate_limited" and detail["reply_text"], detail
    assert pool.statements == before  # refused before PostgreSQL: nothing claimed


def test_an_emergency_let_through_concurrently_is_owed() -> None:
    """Two emergencies in flight both found the last token: the second token is owed, and
    repaid from the next one before the allowance has a token again."""
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    key, rate, burst = ("emergency", "b"), 1.0, 1.0  # a token a minute
    assert limiter.peek(key, rate, burst) == 0.0
    limiter.take_owing(key, rate, burst)
    limiter.take_owing(key, rate, burst)  # concurrent: none left, owed
    assert limiter.peek(key, rate, burst) == pytest.approx(120.0)
    now[0] = 60.0  # one token back: it repays the debt
    assert limiter.peek(key, rate, burst) == pytest.approx(60.0)
    assert limiter.wait_for(key, rate, burst) > 0
    now[0] = 120.0
    assert limiter.wait_for(key, rate, burst) == 0.0
