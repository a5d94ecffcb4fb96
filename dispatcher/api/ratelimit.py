"""Per-bot and per-group rate limits: in-memory token buckets, one set per API process.

In memory on purpose: limits protect this process and the chat groups from a runaway bot;
with N API instances behind a balancer the effective limit is N times the configured one.
Group keys are bounded by the bots' configuration (unknown groups are refused earlier).
Chat intake classifies first (rules, local) and charges after: `charge_bot` and
`charge_group` for ordinary messages, `emergency_wait` for life-threatening ones
(`POST /v1/requests`: `emergency_peek` first, `charge_emergency` once it is accepted).
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
    _owed: dict[tuple[str, ...], float] = field(default_factory=dict)  # `take_owing`

    def wait_for(self, key: tuple[str, ...], rate_per_minute: float, burst: float) -> float:
        """Take a token for `key`: 0.0 when allowed, else seconds until the next token."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate_per_minute, burst, now)
        owed = self._repay(key, bucket, now)
        if owed > 0:
            return (1.0 + owed - bucket.tokens(now)) / bucket.rate
        return bucket.try_take(now)

    def peek(self, key: tuple[str, ...], rate_per_minute: float, burst: float) -> float:
        """Seconds until `key` has a token (0.0 if it has one now); takes nothing (a debt,
        `take_owing`, is repaid from the tokens come back meanwhile)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        now = self.clock()
        owed = self._repay(key, bucket, now)
        available = bucket.tokens(now)
        return 0.0 if available >= 1.0 else (1.0 + owed - available) / bucket.rate

    def take_owing(self, key: tuple[str, ...], rate_per_minute: float, burst: float) -> None:
        """Take a token for `key`, owed when it has none (what was let through after a
        `peek` while others spent the tokens): repaid from the next tokens before `peek` or
        `wait_for` sees one, so an overshoot is a burst once, never a higher rate."""
        if self.wait_for(key, rate_per_minute, burst) > 0:
            self._owed[key] = self._owed.get(key, 0.0) + 1.0

    def _repay(self, key: tuple[str, ...], bucket: TokenBucket, now: float) -> float:
        """What `key` still owes once the tokens come back since have repaid what they can."""
        owed = self._owed.get(key, 0.0)
        while owed > 0 and bucket.try_take(now) == 0.0:
            owed -= 1.0
        if owed > 0:
            self._owed[key] = owed
        else:
            self._owed.pop(key, None)
        return owed

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


def _emergency(bot: BotConfig) -> tuple[tuple[str, ...], float, float]:
    """The bot's emergency allowance (never smaller than its ordinary limit)."""
    rate = max(bot.emergency_rate_per_minute, bot.rate_per_minute)
    return ("emergency", bot.bot_id), rate, max(bot.emergency_burst, bot.burst)


def emergency_wait(limiter: RateLimiter, bot: BotConfig, route: str) -> int:
    """A token from the bot's emergency allowance: 0 when taken, else whole seconds until
    the next one, counted and logged (the bot id only: nothing of the message)."""
    key, rate, burst = _emergency(bot)
    return _over_allowance(bot, route, limiter.wait_for(key, rate, burst))


def emergency_peek(limiter: RateLimiter, bot: BotConfig, route: str) -> int:
    """As `emergency_wait`, taking nothing: the token is taken once the request is accepted
    (`charge_emergency`), so that a replay refused on the way charges nothing."""
    key, rate, burst = _emergency(bot)
    return _over_allowance(bot, route, limiter.peek(key, rate, burst))


def charge_emergency(limiter: RateLimiter, bot: BotConfig) -> None:
    """A life-threatening request accepted after `emergency_peek` found a token: the token
    is taken now, owed if concurrent emergencies spent it meanwhile (`take_owing`): they
    overshoot the allowance by the few in flight, once, which a flood guard can afford."""
    key, rate, burst = _emergency(bot)
    limiter.take_owing(key, rate, burst)


def _over_allowance(bot: BotConfig, route: str, wait: float) -> int:
    if wait == 0.0:
        return 0
    _, rate, burst = _emergency(bot)
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


# Whom to call when nobody knows which: the call-now line's numbers, in the order it says them.
ALL_NUMBERS = "120（急救）、110（报警）或119（火警）"


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
        first = f"情况危急请立即拨打{ALL_NUMBERS}！"
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
