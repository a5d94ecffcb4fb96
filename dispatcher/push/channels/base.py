"""The channel interface and the HTTP plumbing every channel shares.

A channel turns a delivery into one HTTP request and the response into a DeliveryResult.
It never retries, sleeps or logs credentials: policy lives in the engine.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import httpx
import orjson

from dispatcher.push.endpoints import EndpointConfig
from dispatcher.push.model import (
    Delivered,
    Delivery,
    DeliveryResult,
    PermanentFailure,
    RetryLater,
)
from dispatcher.push.retry_after import parse_retry_after
from dispatcher.redact import masked

WallClock = Callable[[], float]  # seconds since the epoch, for signature timestamps

# Keys as `json.dumps` would coerce them (an int key becomes "1"). orjson also writes a few
# types json refused (datetimes, dataclasses): no push carries one.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_bytes(payload: object) -> bytes:
    """A push body as UTF-8 JSON: the bytes `json.dumps(payload, ensure_ascii=False,
    separators=(",", ":")).encode()` gives for what pushes carry (strings, ints, lists,
    dicts; pinned in tests/unit/test_push_json_bytes.py), ~20 times faster. A webhook batch
    is ~19 kB of text: json's encoder was ~65 µs of it, 1.4 % of the worker (issue 18)."""
    return orjson.dumps(payload, option=_JSON_OPTIONS)


class Channel(Protocol):
    endpoint: EndpointConfig

    async def send(self, delivery: Delivery) -> DeliveryResult: ...


@runtime_checkable
class BatchChannel(Channel, Protocol):
    """A channel that can carry several deliveries in one request (the generic webhook)."""

    async def send_batch(self, batch_id: str, deliveries: Sequence[Delivery]) -> DeliveryResult: ...


def classify_status(response: httpx.Response, now: datetime) -> DeliveryResult | None:
    """Map a non-2xx status to a result; None means 2xx (the caller reads the body)."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    if status == 429:
        return RetryLater(f"HTTP {status}", retry_after=retry_after, throttled=True)
    if status in (408, 425) or status >= 500:
        return RetryLater(f"HTTP {status}", retry_after=retry_after)
    # 3xx included: redirects are not followed, so a config cannot be bounced elsewhere.
    return PermanentFailure(f"HTTP {status}")


def json_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        parsed = json.loads(response.content)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def short(text: object, limit: int = 120) -> str:
    """Platform error messages go into failure reasons (a `DeliveryFailed` command and
    event): short, single-line, and with phones and digits masked, as a platform may echo
    the message it refused (a requester's phone, a flat). The error code is kept apart."""
    return masked(" ".join(str(text).split()))[:limit]


class HttpChannel(ABC):
    """Builds a request, sends it on the shared client, classifies the answer."""

    def __init__(
        self,
        endpoint: EndpointConfig,
        client: httpx.AsyncClient,
        wall_clock: WallClock = time.time,
    ) -> None:
        self.endpoint = endpoint
        self._client = client
        self._wall_clock = wall_clock

    def __repr__(self) -> str:  # never show the config's secrets, even masked ones
        return f"{type(self).__name__}({self.endpoint.name!r})"

    @abstractmethod
    def build_request(self, delivery: Delivery) -> httpx.Request: ...

    def classify_body(self, response: httpx.Response) -> DeliveryResult:
        """For a 2xx answer; robots override this to read their errcode."""
        return Delivered(response.status_code)

    def post_json(
        self,
        url: str | httpx.URL,
        payload: object,
        headers: dict[str, str] | None = None,
    ) -> httpx.Request:
        return self.post_bytes(url, json_bytes(payload), headers)

    def post_bytes(
        self, url: str | httpx.URL, body: bytes, headers: dict[str, str] | None = None
    ) -> httpx.Request:
        all_headers = {"content-type": "application/json; charset=utf-8", **(headers or {})}
        return self._client.build_request(
            "POST",
            url,
            content=body,
            headers=all_headers,
            timeout=self.endpoint.timeout_seconds,
        )

    async def send(self, delivery: Delivery) -> DeliveryResult:
        return await self.send_request(self.build_request(delivery))

    async def send_request(self, request: httpx.Request) -> DeliveryResult:
        try:
            response = await self._client.send(request)
        except httpx.TimeoutException:
            return RetryLater("timeout")
        except httpx.TransportError as exc:
            return RetryLater(f"transport error: {type(exc).__name__}")
        now = datetime.fromtimestamp(self._wall_clock(), UTC)
        return classify_status(response, now) or self.classify_body(response)
