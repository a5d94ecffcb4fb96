"""Per-bot and per-group rate limits: in-memory token buckets, one set per API process.

In memory on purpose: limits protect this process and the chat groups from a runaway bot;
with N API instances behind a balancer the effective limit is N times the configured one.
Group keys are bounded by the bots' configuration (unknown groups are refused earlier).
Chat intake classifies first (rules, local) and charges after: `charge_bot` and
`charge_group` for ordinary messages, `emergency_wait` for life-threatening ones.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import HTTPException
from prometheus_client import Counter

from dispatcher.api.errors import fail
from dispatcher.groupchat.bots import BotConfig
from dispatcher.ops.api_metrics import REGISTRY
from dispatcher.push.token_bucket import TokenBucket
from schemas.vocab import EmergencyNumber

log = logging.getLogger(__name__)


@dataclass
class RateLimiter:
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[tuple[str, ...], TokenBucket] = field(default_factory=dict)

    def wait_for(self, key: tuple[str, ...], rate_per_minute: float, burst: float) -> float:
        """Take a token for `key`: 0.0 when allowed, else seconds until the next token."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate_per_minute, burst, now)
        return bucket.try_take(now)

    def peek(self, key: tuple[str, ...], rate_per_minute: float, burst: float) -> float:
        """Seconds until `key` has a token (0.0 if it has one now); takes nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        available = bucket.tokens(self.clock())
        return 0.0 if available >= 1.0 else (1.0 - available) / bucket.rate

    def check(self, key: tuple[str, ...], rate_per_minute: float, burst: float, what: str) -> None:
        """Raise 429 with Retry-After (whole seconds, at least 1) when `key` is over its rate."""
        wait = self.wait_for(key, rate_per_minute, burst)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise fail(
                429,
                "rate_limited",
                f"rate limit for this {what} reached; retry in {seconds} s",
                {"Retry-After": str(seconds)},
            )


# Life-threatening messages never wait behind chatter: they skip the bot's and group's
# ordinary buckets and draw from the bot's own emergency allowance, which bounds only what a
# compromised (signed) bot could raise in fake emergencies.
EMERGENCY_OVER_ALLOWANCE = Counter(
    "dispatch_api_emergency_over_allowance",
    "Life-threatening messages a bot sent beyond its emergency allowance: the requester was "
    "told to call 120/110/119, nobody was dispatched",
    ["route"],
    registry=REGISTRY,
)


def charge_bot(limiter: RateLimiter, bot: BotConfig) -> None:
    """An ordinary message or request: the bot's bucket (429 when over)."""
    limiter.check(("bot", bot.bot_id), bot.rate_per_minute, bot.burst, "bot")


def charge_group(limiter: RateLimiter, bot: BotConfig, group_id: str) -> None:
    """An ordinary chat message: its group's bucket too (429 when over)."""
    key = ("group", bot.bot_id, group_id)
    limiter.check(key, bot.group_rate_per_minute, bot.group_burst, "group")


def emergency_wait(limiter: RateLimiter, bot: BotConfig, route: str) -> int:
    """A token from the bot's emergency allowance (never smaller than its ordinary limit):
    0 when taken, else whole seconds until the next one, counted and logged (the bot id
    only: nothing of the message)."""
    rate = max(bot.emergency_rate_per_minute, bot.rate_per_minute)
    burst = max(bot.emergency_burst, bot.burst)
    wait = limiter.wait_for(("emergency", bot.bot_id), rate, burst)
    if wait == 0.0:
        return 0
    EMERGENCY_OVER_ALLOWANCE.labels(route).inc()
    log.critical(
        "bot %s is over its emergency allowance (%s/min, burst %s) on %s: a life-threatening "
        "message got the call-now advice only, nobody dispatched; is the bot compromised?",
        bot.bot_id,
        rate,
        burst,
        route,
    )
    return max(1, math.ceil(wait))


# The classifier's advice promises help on its way ("邻居们正在赶来", "…正在帮忙寻找"): said
# where nobody was dispatched, it would have the requester wait for neighbours not coming.
_NEIGHBOURS_COMING = re.compile("(，?)邻居们也?正在(?:赶来(?:帮忙)?|帮忙寻找)([，。！]?)")


def _not_coming(found: re.Match[str]) -> str:
    if found.group(1):  # "…注意保暖，邻居们正在赶来。": the sentence ends where it did
        return found.group(2) or "。"
    return ""  # "…120急救电话！邻居们正在赶来，请保持…": the clause and its comma go


def over_allowance_reply(advice: str | None, number: EmergencyNumber | None = None) -> str:
    """What the requester hears when nobody could be dispatched: call the number now (the
    classifier's advice without its "neighbours are coming", else the request's number,
    else all three)."""
    if advice:
        first = _NEIGHBOURS_COMING.sub(_not_coming, advice).strip()
        if not first.endswith(("。", "！")):
            first += "。"
    elif number is not None:
        first = f"情况危急请立即拨打{number.value}！"
    else:
        first = "情况危急请立即拨打120（急救）、110（报警）或119（火警）！"
    return first + "系统繁忙，暂未能通知邻居：请马上拨打电话，并呼喊身边的人帮忙。"


def with_advice(
    refusal: HTTPException, advice: str | None, number: EmergencyNumber | None
) -> HTTPException:
    """A refusal of a life-threatening message or request (over the emergency allowance,
    PostgreSQL or Kafka out of reach), carrying the call-now reply to post to the group now,
    as a 202's body carries it: never a bare refusal for a life-threatening message."""
    detail = refusal.detail if isinstance(refusal.detail, dict) else {"message": refusal.detail}
    advised = {
        **detail,
        "reply_text": over_allowance_reply(advice, number),
        "advise_emergency_call": True,
        "emergency_number": number.value if number is not None else None,
    }
    return HTTPException(refusal.status_code, advised, refusal.headers)


def over_allowance(
    advice: str | None, number: EmergencyNumber | None, retry_after: int
) -> HTTPException:
    """429 for a bot (it may retry, re-signed, after Retry-After), carrying the advice reply
    to post to the group now: never a bare 429 for a life-threatening message."""
    refusal = fail(
        429,
        "emergency_rate_limited",
        "over this bot's emergency allowance: nothing dispatched; post reply_text",
        {"Retry-After": str(retry_after)},
    )
    return with_advice(refusal, advice, number)
