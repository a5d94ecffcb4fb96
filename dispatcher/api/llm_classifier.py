"""Optional language-model backend for chat messages: off unless DISPATCH_LLM_BASE_URL is set.

Asks an OpenAI-compatible chat-completions endpoint (Qwen/DashScope compatible mode,
DeepSeek, a local vLLM/Ollama server…) for JSON with the classifier's fields, within a
strict time budget. On a timeout, an HTTP error, a refusal or an answer whose verdict
cannot be read the rules' answer stands (side fields are read leniently: an unknown skill
or category never sinks a 120 verdict); a good answer may only raise it
(`dispatcher.classify.merge`). When
the rules already advise an emergency call the model is not asked at all (its answer could
change nothing, and waiting for it would delay the 120 advice). Phone numbers however
written (circled, keycap, bold or financial digits too), other long digit runs and place
numbers (building, unit, floor, room: the answer has no place field) are masked before the
text leaves the service. Answers are cached by text; latency (by outcome) and
disagreements with the rules are metrics.

A circuit breaker (`ModelBreaker`) spares the messages an outage's wait: after
`llm_breaker_failures` model calls in a row failed (a timeout, an HTTP error, an answer
that cannot be read), the model is not asked for `llm_breaker_cool_off_seconds` and the
rules' answer stands at once; then one message probes it (the others keep the rules'
answer meanwhile) and an answer closes the circuit, a failure opens it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final, Literal

import httpx
from prometheus_client import Counter, Gauge, Histogram

from dispatcher.classify import Classification
from dispatcher.classify.merge import LlmAnswer, disagreements, merge_llm
from dispatcher.ops.api_metrics import REGISTRY
from dispatcher.push.breaker import BreakerState, CircuitBreaker
from dispatcher.redact import DIGIT, PHONE, fold_digits, hide, mask_places
from dispatcher.settings import Settings

log = logging.getLogger(__name__)

LLM_SECONDS = Histogram(
    "dispatch_llm_classify_duration_seconds",
    "Time for the language model's answer, by outcome",
    ["outcome"],  # ok, timeout, http_error, refused, malformed
    buckets=(0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5),
    registry=REGISTRY,
)
LLM_DISAGREEMENTS = Counter(
    "dispatch_llm_classify_disagreements",
    "Messages on which the language model and the rules differ, by field",
    ["field"],
    registry=REGISTRY,
)
LLM_CACHE_HITS = Counter(
    "dispatch_llm_classify_cache_hits", "Answers served from the cache", registry=REGISTRY
)
LLM_SKIPPED = Counter(
    "dispatch_llm_classify_breaker_skipped",
    "Messages the model was not asked about, its circuit open: the rules' answer stood at once",
    registry=REGISTRY,
)
LLM_BREAKER = Counter(
    "dispatch_llm_classify_breaker_transitions",
    "The model's circuit opening (consecutive failures) and closing (it answered again)",
    ["to"],  # open, closed
    registry=REGISTRY,
)
LLM_BREAKER_OPEN = Gauge(
    "dispatch_llm_classify_breaker_open",
    "1 while the model's circuit is open or half-open (this process skips or probes it)",
    registry=REGISTRY,
)

# 5+ digits in a run (phones in other forms, ID numbers, door codes, landlines), Arabic or
# Chinese, with the separators people type inside numbers (a whitespace run on either side
# of them counts as one); 3-4 ("打120", "39度") stay. Bounded: a run past 60 digits is
# masked in pieces.
_LONG_NUMBER: Final = re.compile(
    rf"{DIGIT}(?:(?>\s{{0,8}}[\-‐–—－_.·/()（）]{{0,2}}\s{{0,8}}){DIGIT}){{4,60}}"
)
_FENCE: Final = re.compile(r"^```(?:json)?\s*|\s*```$")
SYSTEM_PROMPT: Final = (
    "你是小区互助群的消息分类器。判断一条群消息是否在求助，只输出一个JSON对象，字段："
    '"is_request"(bool), "category"(medical, hospital_transport, fall, repair, errand, '
    "carrying, companionship, lost_person, tech_help, other 之一，非求助为null), "
    '"urgency"(critical, urgent, normal, low), "skills"(driving, doctor, nurse, first_aid, '
    "carrying, elder_care, child_care, plumbing, electrical, errands, tech_help, legal, "
    'translation, general 的列表), "advise_emergency_call"(bool，危及生命时为true), '
    '"emergency_number"("120","119","110"或null), "reason"(简短中文)。不要输出其他文字。'
)


def mask_numbers(text: str) -> str:
    """The text as the model may see it: every digit form folded to a plain digit (circled,
    keycap, bold, other scripts' digits: `fold_digits`), then phones, long numbers and place
    numbers as "#". The model is sent this folded text; nothing else reads it."""
    text = fold_digits(text)
    for pattern in (PHONE, _LONG_NUMBER):
        text = pattern.sub(hide, text)
    return mask_places(text)


def parse_answer(body: Any) -> LlmAnswer | None:
    """The model's JSON from a chat-completions response body; None when it refused."""
    message = body["choices"][0]["message"]
    if message.get("refusal"):
        return None
    content = message.get("content")
    if not isinstance(content, str):
        raise ValueError("no content")
    return LlmAnswer.model_validate(json.loads(_FENCE.sub("", content.strip())))


Call = Literal["skip", "call", "probe"]


class ModelBreaker:
    """Whether to ask the model now, and what each call's outcome did to its circuit
    (`push.breaker.CircuitBreaker`: closed, open for a cool-off after N failures in a row,
    then half-open for one probe). Pure: the caller passes `now`."""

    def __init__(self, failures: int, cool_off_seconds: float) -> None:
        self._breaker = CircuitBreaker(failures, cool_off_seconds)

    def admit(self, now: float) -> Call:
        """What to do with this message: skip the model (open, or half-open with its probe
        in flight), "probe" it (half-open: this call finds out), or "call" it (closed)."""
        wait = self._breaker.wait_time(now)
        if wait is None or wait > 0:
            return "skip"
        probe = self._breaker.state(now) is BreakerState.HALF_OPEN
        self._breaker.on_send(now)
        return "probe" if probe else "call"

    def answered(self, now: float) -> bool:
        """The model answered: True when that closed an open circuit."""
        was_open = self._breaker.state(now) is not BreakerState.CLOSED
        self._breaker.record_success(now)
        return was_open

    def failed(self, now: float) -> bool:
        """A timeout, an HTTP error or an unreadable answer: True when that opened the
        circuit (a failed probe, or a straggler's while open, restarts the cool-off)."""
        was_closed = self._breaker.state(now) is BreakerState.CLOSED
        self._breaker.record_failure(now)
        return was_closed and self._breaker.state(now) is not BreakerState.CLOSED

    def abandoned(self, call: Call) -> None:
        """A call cancelled before its outcome (the client went away): a probe's slot is
        freed, so that the next message probes instead of the circuit staying open."""
        if call == "probe":
            self._breaker.record_neutral()

    @property
    def failures(self) -> int:
        return self._breaker.consecutive_failures


class LlmClassifier:
    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert settings.llm_base_url, "the backend is off without a base URL"
        self._url = settings.llm_base_url.rstrip("/") + "/chat/completions"
        self._model = settings.llm_model
        self._key = settings.llm_api_key
        self._timeout = settings.llm_timeout_seconds
        self._cache: OrderedDict[str, LlmAnswer] = OrderedDict()
        self._cache_size = settings.llm_cache_size
        self._client = client or httpx.AsyncClient()
        self._clock = clock
        self._breaker = ModelBreaker(
            settings.llm_breaker_failures, settings.llm_breaker_cool_off_seconds
        )
        self._cool_off = settings.llm_breaker_cool_off_seconds

    async def close(self) -> None:
        await self._client.aclose()

    async def refine(self, text: str, rules: Classification) -> Classification:
        """The rules' answer, raised where the model's answer allows; never lowered."""
        masked = mask_numbers(text)
        key = hashlib.sha256(masked.encode()).hexdigest()
        answer = self._cache.get(key)
        if answer is not None:
            self._cache.move_to_end(key)
            LLM_CACHE_HITS.inc()
        else:
            answer = await self._ask(masked)
            if answer is None:
                return rules
            self._remember(key, answer)
        for field in disagreements(rules, answer):
            LLM_DISAGREEMENTS.labels(field).inc()
        return merge_llm(rules, answer)

    def _remember(self, key: str, answer: LlmAnswer) -> None:
        if self._cache_size <= 0:
            return
        self._cache[key] = answer
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _ask(self, masked: str) -> LlmAnswer | None:
        """The model's answer, None for a refusal or a failure; not asked at all (None at
        once) while its circuit is open."""
        call = self._breaker.admit(self._clock())
        if call == "skip":
            LLM_SKIPPED.inc()
            return None
        try:
            answer, ok = await self._post(masked)
        except BaseException:  # cancelled: no outcome to learn from
            self._breaker.abandoned(call)
            raise
        if ok and self._breaker.answered(self._clock()):
            LLM_BREAKER.labels("closed").inc()
            LLM_BREAKER_OPEN.set(0)
            log.warning("llm classify: the model answered again; circuit closed")
        elif not ok and self._breaker.failed(self._clock()):
            LLM_BREAKER.labels("open").inc()
            LLM_BREAKER_OPEN.set(1)
            log.warning(
                "llm classify: %d failures in a row; circuit open, the rules answer alone "
                "for %g s, then one message probes the model",
                self._breaker.failures,
                self._cool_off,
            )
        return answer

    async def _post(self, masked: str) -> tuple[LlmAnswer | None, bool]:
        """The model's answer (None: it refused) and whether it answered at all (False: a
        timeout, an HTTP error, an answer that cannot be read)."""
        payload = {
            "model": self._model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": masked},
            ],
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"}
        started = time.perf_counter()
        outcome = "ok"
        try:
            response = await asyncio.wait_for(
                self._client.post(self._url, json=payload, headers=headers),
                timeout=self._timeout,
            )
            response.raise_for_status()
            answer = parse_answer(response.json())
            if answer is None:
                outcome = "refused"
            return answer, True
        except TimeoutError:
            outcome = "timeout"
        except httpx.HTTPError as exc:
            outcome = "http_error"
            log.warning("llm classify: %s", type(exc).__name__)  # never the text
        except Exception as exc:  # any answer we cannot read is malformed
            # (bad JSON or values, {"message": null} → AttributeError, deep nesting →
            # RecursionError): the rules' answer stands. CancelledError is no Exception.
            outcome = "malformed"
            log.warning("llm classify: malformed answer: %s", type(exc).__name__)
        finally:
            LLM_SECONDS.labels(outcome).observe(time.perf_counter() - started)
        return None, False


async def refine_with_llm(
    state: Any, settings: Settings, text: str, rules: Classification
) -> Classification:
    """The API's hook: the rules' answer as it is when the backend is off (the default),
    when the rules advise an emergency call (a red flag is never argued with, so the model
    is not asked: no wait before the 120 advice, no text sent), and when anything about the
    model's answer fails."""
    if not settings.llm_base_url or rules.advise_emergency_call:
        return rules
    llm: LlmClassifier | None = getattr(state, "llm", None)
    if llm is None:
        llm = state.llm = LlmClassifier(settings)
    try:
        return await llm.refine(text, rules)
    except Exception as exc:  # the model is optional: never a 500 for it
        log.warning("llm classify: %s", type(exc).__name__)  # never the text
        return rules


async def close_llm(state: Any) -> None:
    """The API's shutdown: close the backend's HTTP client if a message ever opened it."""
    llm: LlmClassifier | None = getattr(state, "llm", None)
    if llm is not None:
        state.llm = None
        await llm.close()
