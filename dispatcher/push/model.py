"""What the engine moves: a delivery (a message for one configured endpoint) and its result.

A delivery names its endpoint by registry name and never carries a URL, so a message can
never steer the service at an arbitrary host (SSRF). Personal data (message text, mobiles)
is kept out of reprs so that logging a delivery cannot leak it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class PushKind(StrEnum):
    OFFER = "offer"
    STAND_DOWN = "stand_down"
    ASSIGNMENT = "assignment"  # carries the requester's contact: one helper only
    CANCELLATION = "cancellation"
    WHISTLE = "whistle"
    GROUP_UPDATE = "group_update"  # the asking group hears back (dispatcher/groupchat)
    WELCOME = "welcome"  # the helper's personal page link: theirs alone
    THANK_YOU = "thank_you"  # after "done"
    SUMMARY = "summary"  # the helper's month


# Kinds whose text holds contact details or an exact place: never to a group robot.
# The welcome carries the helper's personal link (whoever holds it acts as them).
PRIVATE_KINDS: frozenset[PushKind] = frozenset(
    {PushKind.ASSIGNMENT, PushKind.WELCOME, PushKind.THANK_YOU, PushKind.SUMMARY}
)


# A delivery id's characters (header-safe) and length: what Delivery validates, and what
# an offer's event id is checked against where its Delivery is built unvalidated
# (push/deliveries.py).
_ID_CHARS = r"[A-Za-z0-9_.:\-]"
DELIVERY_ID_MAX = 128
DELIVERY_ID_PATTERN = f"^{_ID_CHARS}+$"
SAFE_DELIVERY_ID = re.compile(f"{_ID_CHARS}{{1,{DELIVERY_ID_MAX}}}")  # use .fullmatch


class PushMessage(BaseModel):
    """A rendered message: a short title and the full plain text."""

    model_config = ConfigDict(frozen=True)

    title: str
    text: str = Field(repr=False)


class Mention(BaseModel):
    """Someone to @ in a group: WeCom uses the mobile (in its API's mention list, not the
    text); DingTalk (`atUserIds`) and Feishu the helper's platform user id (`open_id`)."""

    model_config = ConfigDict(frozen=True)

    mobile: str | None = Field(default=None, repr=False)
    open_id: str | None = Field(default=None, repr=False)


class Delivery(BaseModel):
    """One message to one endpoint. `delivery_id` is stable across retries (idempotency key)."""

    # extra="forbid": a "url" smuggled into a delivery is an error, not silently ignored.
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Travels as the `webhook-id` header, so restrict it to header-safe characters.
    delivery_id: str = Field(min_length=1, max_length=DELIVERY_ID_MAX, pattern=DELIVERY_ID_PATTERN)
    endpoint: str = Field(min_length=1, max_length=64)
    kind: PushKind
    message: PushMessage
    mentions: tuple[Mention, ...] = ()
    # Opaque helper id for a generic push relay to route on (never a phone number).
    recipient: str | None = None
    # Deliveries to the same group robot with the same batch key may be merged into one
    # @-message (e.g. one wave of offers for one request).
    batch_key: str | None = None
    # Structured fields for generic webhook consumers (request id, offer id, links...).
    data: dict[str, str] = Field(default_factory=dict, repr=False)
    # It concerns a life-threatening request (or is emergency advice): its endpoint's lane
    # sends it before the ordinary backlog queued ahead of it (push/lane.py `priority`).
    life_threatening: bool = False


@dataclass(frozen=True, slots=True)
class Delivered:
    status_code: int = 200


@dataclass(frozen=True, slots=True)
class RetryLater:
    reason: str
    retry_after: float | None = None  # seconds the endpoint asked us to wait
    throttled: bool = False  # a rate-limit answer: pause the endpoint, not a health failure


@dataclass(frozen=True, slots=True)
class PermanentFailure:
    reason: str


DeliveryResult = Delivered | RetryLater | PermanentFailure
