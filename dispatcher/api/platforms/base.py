"""The one interface every chat platform's inbound adapter implements.

An adapter turns the platform's HTTP callback into an `Inbound`: either a chat message for
the existing intake (`InboundMessage`), or an answer the platform expects by itself (URL
verification). It checks the platform's signature, freshness and encryption and raises
`Refused` (a 4xx with a stable reason) for anything it cannot trust. Adapters do no I/O:
the route (`routes.py`) owns replay claims, intake and replies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from dispatcher.api.json_body import loads_json
from dispatcher.groupchat.bots import PlatformConfig
from dispatcher.numbers import MAX_EPOCH_MS, NotANumber, checked_int, parse_int


class Refused(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class CallbackRequest:
    """What an adapter sees of the HTTP request: nothing it could do I/O with."""

    method: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class ReplyHint:
    """How to answer into the same conversation, when the platform gives a way."""

    session_webhook: str | None = field(default=None, repr=False)  # DingTalk
    expires_at_ms: int | None = None
    reply_to: str | None = None  # Feishu: the message to answer with the reply API


@dataclass(frozen=True)
class InboundMessage:
    group_id: str
    message_id: str  # the platform's own id: its retries carry the same one
    sender_id: str
    sender_name: str | None
    text: str
    replay_key: str  # unique per signed delivery: an exact re-send is refused as replayed
    is_group: bool = True
    reply: ReplyHint = ReplyHint()


@dataclass(frozen=True)
class DirectAnswer:
    """The platform wants this exact body back (URL verification); nothing is dispatched."""

    body: bytes
    media_type: str


@dataclass(frozen=True)
class Ignored:
    """A signed, valid callback that carries no chat text (an event we do not handle)."""

    replay_key: str
    what: str


Inbound = InboundMessage | DirectAnswer | Ignored

_KIND = re.compile(r"[A-Za-z0-9_.]{1,64}")  # msgtype, event_type: short ASCII identifiers


def ignored(replay_key: str, platform: str, kind: object, unknown: str = "event") -> Ignored:
    """`Ignored`, labelled with the platform and the payload's kind only when that is a short
    ASCII identifier: the label is echoed in the answer, and a payload string there could be
    anything (a lone surrogate cannot be encoded: a 500, which the platform retries forever)."""
    label = kind if isinstance(kind, str) and _KIND.fullmatch(kind) else unknown
    return Ignored(replay_key, f"{platform} {label}")


class PlatformAdapter(Protocol):
    name: str

    def parse(self, config: PlatformConfig, req: CallbackRequest, now: float) -> Inbound: ...


def bad_signature(message: str = "the platform signature does not match") -> Refused:
    return Refused(401, "bad_signature", message)


def stale(message: str) -> Refused:
    return Refused(401, "stale", message)


def undecryptable(message: str) -> Refused:
    return Refused(400, "undecryptable", message)


def malformed(message: str) -> Refused:
    return Refused(400, "malformed", message)


def check_fresh(timestamp_s: float, now: float, tolerance_s: float, what: str) -> None:
    if abs(now - timestamp_s) > tolerance_s:
        raise stale(f"{what} is more than {int(tolerance_s)} s away from our clock")


def parse_timestamp(value: str | None, what: str) -> int:
    """A signed callback's timestamp (seconds or milliseconds since 1970)."""
    try:
        return parse_int(value, what, lo=0, hi=MAX_EPOCH_MS)
    except NotANumber:
        raise Refused(401, "missing_signature", f"{what} is missing or not a number") from None


def epoch_ms(value: object, what: str) -> int | None:
    """An optional JSON field in milliseconds since 1970 (None when absent), or `malformed`:
    a time no clock can show would fail later, where it is no longer a 4xx."""
    if value is None:
        return None
    try:
        return checked_int(value, what, lo=0, hi=MAX_EPOCH_MS)
    except NotANumber as exc:
        raise malformed(str(exc)) from None


def json_document(data: bytes | str, what: str) -> object:
    """Parsed JSON, or `malformed`: bytes that are not JSON, and JSON nested deeper than the
    parser's recursion (`[[[[…` is a RecursionError, not a ValueError)."""
    try:
        return loads_json(data)
    except ValueError:
        raise malformed(f"{what} is not JSON") from None
