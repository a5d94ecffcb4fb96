"""Who is calling: a signed chat-group bot (Standard Webhooks) or staff (bearer token).

Bot requests carry `X-Bot-Id` (which credential to check; it is not trusted by itself)
and the three Standard Webhooks headers. Order: signature and freshness (cheap, no I/O),
then the bot's rate limit, then the webhook-id replay check in PostgreSQL. The intake routes
(`POST /v1/messages`, `/v1/requests`) classify first, so that with PostgreSQL out of reach a
life-threatening message is still answered with the call-now advice (503 carrying it), never
an error before it was read; and charge the rate limit themselves, so an emergency never
waits behind chatter: a chat message once its webhook-id is claimed (a replay is 409 and
charged nothing: replaying one captured emergency cannot spend the bot's emergency
allowance; a 429 then gives the id back). Submitting a help request (`submitting_caller`)
claims it in the route's one intake statement (`intake.submit`), before it writes anything
else: one round trip fewer; a life-threatening one only peeks at the emergency allowance
before that statement and takes its token once the statement took the request in (a replay
charges nothing, no claim to give back: `requests.charge_caller`). A chat message claims it
(`claim_deferred`) once it is classified, before anything is written or sent. Either way a
replay is still refused before anything is stored or sent.

Replays: a webhook-id is accepted once per bot (409 `replayed` afterwards). A bot that
retries must send a new webhook-id and timestamp; its message id or Idempotency-Key makes
the retry safe (the stored answer comes back, nothing is dispatched twice). A webhook-id
whose request failed on our side (5xx) or was refused by a rate limit after its claim (429)
is released again, so a platform that re-sends the very same signed message after our outage
is not locked out.

Before the live configuration is loaded (the API just started, or Kafka, which holds it, is
out of reach) no bot is known, so no signature can be checked: every bot request is 503
`config_loading` with Retry-After, as the other outages. The intake routes still read the
message by the rules (no configuration needed) and a life-threatening one's 503 carries the
call-now reply, as for `database_unavailable`: public advice, given unauthenticated, while
nothing is claimed, charged, stored or sent (`_config_loading`). So does one the classifier
could not read in time (it may be an emergency: `classifying.IF_LIFE_AT_RISK`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Request

from dispatcher.api import webhook_signature as ws
from dispatcher.api.auth import DB_UNAVAILABLE, audit_staff, authenticate_staff, bearer
from dispatcher.api.classifying import IF_LIFE_AT_RISK
from dispatcher.api.deps import ApiDeps, config_loading
from dispatcher.api.errors import fail
from dispatcher.api.json_body import parse_json_body
from dispatcher.api.models import ChatMessageIn, HelpRequestIn
from dispatcher.api.ratelimit import charge_bot, with_advice
from dispatcher.api.staff_accounts import StaffAccount
from dispatcher.groupchat.bots import BotConfig
from dispatcher.record.edge import bot_calls
from dispatcher.record.edge.intake import WebhookId
from schemas.vocab import EmergencyNumber

log = logging.getLogger(__name__)

PURGE_EVERY_S = 60.0
# How long a claimed webhook-id (or platform delivery) is kept: until no timestamp it was
# signed with can pass a freshness check again, for the laxest caller: DingTalk's window is
# an hour (dispatcher/api/platforms/dingtalk.py), the signed bots' five minutes. Pinned
# against every adapter's window by tests/security/test_platform_redelivery.py.
REPLAY_CLAIMS_KEPT_S = 2 * 3600.0
_DECOY_KEY = secrets.token_bytes(32)  # per process; never matches a real bot's signature
# Messages read unauthenticated while the configuration loads (`_config_loading`): the rules
# classifier's work for callers nobody could check, bounded per process. Generous: bots
# retry every Retry-After (2 s), each with its pending messages; beyond it the 503 is plain.
UNVERIFIED_READS_PER_MINUTE = 600.0
UNVERIFIED_READS_BURST = 60.0

# A life-threatening message's call-now advice: the classifier's advice, the number to call.
Alarm = tuple[str | None, EmergencyNumber | None]
AlarmReader = Callable[[Request, ApiDeps], Awaitable[Alarm | None]]


@dataclass
class DeferredClaim:
    """A bot's webhook-id that its route claims in its own first statement, before it
    writes or sends anything (`command_queue.submit_once`). `claimed`: that statement
    claimed it, so a 5xx afterwards releases it (never an id another request owns).
    `answered`: its 202 is decided (Kafka has the command): whatever fails after that (a
    cancellation at shutdown, say) must not give the id back, or a replay would be served
    instead of refused."""

    webhook: WebhookId
    claimed: bool = False
    answered: bool = False


@dataclass(frozen=True)
class Caller:
    kind: Literal["bot", "staff"]
    bot: BotConfig | None = None
    staff: StaffAccount | None = None
    deferred: DeferredClaim | None = field(default=None, compare=False)

    @property
    def bot_id(self) -> str | None:
        return self.bot.bot_id if self.bot else None

    def may_act_in(self, community_id: str) -> bool:
        if self.kind == "staff":
            return self.staff is None or self.staff.may_act_in(community_id)
        return self.bot is not None and self.bot.may_act_in(community_id)


def _deps(request: Request) -> ApiDeps:
    deps: ApiDeps = request.app.state.deps
    return deps


async def _signed_body(request: Request) -> bytes:
    # Method and target are signed with the body: a signature is good for one route only.
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return ws.bound_payload(request.method, target, await request.body())


def replayed() -> HTTPException:
    return fail(
        409,
        "replayed",
        "this webhook-id was already used; a retry needs a new webhook-id and timestamp "
        "(the message id / Idempotency-Key keeps it from dispatching twice)",
    )


async def _purge_now_and_then(deps: ApiDeps) -> None:
    """Housekeeping: with PostgreSQL out of reach it is skipped (until the next turn), so the
    route reads and classifies the message first and answers the outage as it must (a
    life-threatening one with the call-now advice), not with this statement's error."""
    now = deps.wall()
    if now - deps.last_purge > PURGE_EVERY_S:
        deps.last_purge = now
        try:
            await bot_calls.purge(await deps.pool(), REPLAY_CLAIMS_KEPT_S)
        except DB_UNAVAILABLE as exc:
            log.warning(
                "webhook-id purge skipped: PostgreSQL out of reach (%s)", type(exc).__name__
            )


async def _claim_webhook_id(deps: ApiDeps, bot_id: str, webhook_id: str) -> None:
    await _purge_now_and_then(deps)
    if not await bot_calls.claim_webhook_id(await deps.pool(), bot_id, webhook_id):
        raise replayed()


async def _release_webhook_id(deps: ApiDeps, bot_id: str, webhook_id: str) -> None:
    """Never raises for an outage: the refusal being answered (a 503) must reach the caller,
    not this statement's error. The id then stays claimed until it is purged (a re-send of
    that very delivery is 409 `replayed`; a bot's retry, newly signed, is served)."""
    try:
        await bot_calls.release_webhook_id(await deps.pool(), bot_id, webhook_id)
    except DB_UNAVAILABLE as exc:
        log.warning("webhook-id not released: PostgreSQL out of reach (%s)", type(exc).__name__)


async def claim_deferred(deps: ApiDeps, deferred: DeferredClaim) -> None:
    """A deferred webhook-id claimed by its route's own statement, once the route has read
    and classified the message (`POST /v1/messages`): a replay is 409 before anything is
    written or sent, and an outage is answered knowing whether the message is an emergency."""
    await _claim_webhook_id(deps, deferred.webhook.bot_id, deferred.webhook.webhook_id)
    deferred.claimed = True


# Platform callbacks (dispatcher/api/platforms) claim their signed deliveries the same way.
claim_webhook_id = _claim_webhook_id
release_webhook_id = _release_webhook_id


async def _authenticate_bot(
    request: Request,
    bot_id: str | None,
    webhook_id: str | None,
    timestamp: str | None,
    signature: str | None,
    defer_claim: bool,
    charge: bool,
    alarm: AlarmReader | None = None,
) -> tuple[BotConfig, DeferredClaim | None]:
    deps = _deps(request)
    if not deps.config.loaded:
        raise await _config_loading(request, deps, bot_id, alarm)
    bot = deps.bot(bot_id)
    # An unknown X-Bot-Id goes through the same checks with a random key, so it gets the
    # very answer a known bot with a wrong signature gets: no bot-id oracle.
    keys = bot.keys() if bot is not None else [_DECOY_KEY]
    try:
        headers = ws.parse_headers(webhook_id, timestamp, signature)
        ws.verify(keys, headers, await _signed_body(request), deps.wall(), ws.TOLERANCE_S)
        if bot is None:
            raise ws.SignatureError("bad_signature", ws.NO_MATCH)
    except ws.SignatureError as exc:
        raise fail(401, exc.reason, exc.message) from exc
    if charge:
        charge_bot(deps.limiter, bot)
    if defer_claim:
        await _purge_now_and_then(deps)
        return bot, DeferredClaim(WebhookId(bot.bot_id, headers.webhook_id))
    await _claim_webhook_id(deps, bot.bot_id, headers.webhook_id)
    return bot, None


async def _config_loading(
    request: Request, deps: ApiDeps, bot_id: str | None, alarm: AlarmReader | None
) -> HTTPException:
    """503 `config_loading` with Retry-After: no bot is known yet, so none is authenticated
    and nothing is claimed, charged, stored or sent. On an intake route (`alarm`) the
    message is read by the rules first (they need no configuration) and a life-threatening
    one's 503 carries the call-now reply (`ratelimit.with_advice`), as an outage's does (one
    not read in time too, said for the case it is one, as its `classify_timeout` is):
    public advice ("call 120 now"), harmless to give a caller nobody could check, while
    that reading is bounded per process (UNVERIFIED_READS_*)."""
    refusal = config_loading()
    if alarm is None or not bot_id:
        return refusal
    key = ("config_loading", "unverified_reads")
    if deps.limiter.wait_for(key, UNVERIFIED_READS_PER_MINUTE, UNVERIFIED_READS_BURST) > 0:
        return refusal
    try:
        said = await alarm(request, deps)
    except HTTPException as exc:  # a body over the limit is still its 413
        if exc.status_code != 503:
            raise
        # The classifier's own 503 (timed out): unread, it may be "没有呼吸了", so the
        # refusal carries the call-now reply as `classifying` words it for that case.
        log.warning(
            "configuration not loaded and a message not classified in time: answered 503 "
            "with the call-now advice, nobody dispatched (the caller retries)"
        )
        return with_advice(refusal, IF_LIFE_AT_RISK, None)
    if said is None:
        return refusal
    log.warning(
        "configuration not loaded: a life-threatening message answered 503 with the call-now "
        "advice, nobody dispatched (the caller retries)"
    )
    return with_advice(refusal, *said)


async def chat_message_alarm(request: Request, deps: ApiDeps) -> Alarm | None:
    """`POST /v1/messages`: the message read by the rules as its route reads it
    (`messages.classify`, `messages.life_threatening`); None when not life-threatening or
    not a chat message at all."""
    # Imported here: the intake routes import this module.
    from dispatcher.api.messages import classify, emergency_number, life_threatening

    raw = await request.body()
    try:
        msg = parse_json_body(ChatMessageIn, request.headers.get("content-type"), raw)
    except (HTTPException, ValueError):  # a 422 comes once the bot is known
        return None
    found = await classify(deps, msg.text)
    return (found.advice, emergency_number(found)) if life_threatening(found) else None


async def help_request_alarm(request: Request, deps: ApiDeps) -> Alarm | None:
    """`POST /v1/requests`: life-threatening by the spec's own rule, as its route decides it
    (`requests.emergency_said`, `requests.spec_from`)."""
    from dispatcher.api.requests import emergency_said, spec_from

    raw = await request.body()
    try:
        body = parse_json_body(HelpRequestIn, request.headers.get("content-type"), raw)
        alarm = emergency_said(body)
        spec = spec_from(body, "config-loading", None, alarm)
    except (HTTPException, ValueError):
        return None
    if not spec.is_life_threatening():
        return None
    return (alarm.advice if alarm else None, spec.emergency())


@asynccontextmanager
async def _bot_session(
    request: Request,
    bot_id: str | None,
    webhook_id: str | None,
    timestamp: str | None,
    signature: str | None,
    defer_claim: bool = False,
    charge: bool = True,
    alarm: AlarmReader | None = None,
) -> AsyncIterator[Caller]:
    """A signed bot request. The webhook-id is released again if we fail with a 5xx (a
    deferred one only once its route claimed it). `charge=False`: the intake routes charge
    the bot's rate limit themselves once the classifier has read the message (an emergency
    never waits behind chatter: `messages.charge`, `requests.charge_caller`)."""
    bot, deferred = await _authenticate_bot(
        request, bot_id, webhook_id, timestamp, signature, defer_claim, charge, alarm
    )
    try:
        yield Caller("bot", bot, deferred=deferred)
    except BaseException as exc:
        if releases_webhook_id(exc, deferred):
            await _release_webhook_id(_deps(request), bot.bot_id, str(webhook_id))
        raise


def releases_webhook_id(exc: BaseException, deferred: DeferredClaim | None) -> bool:
    """A failure on our side (5xx, or no HTTP answer at all) or a rate limit's 429 (nothing
    was accepted: `POST /v1/messages` charges once its id is claimed, so that a replay is
    refused before it is charged) gives the webhook-id back so the re-send is served, but
    only an id this request holds: a deferred one its statement has not claimed may belong
    to the earlier delivery this one replays."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    not_taken = status == 429 or status >= 500
    return not_taken and (deferred is None or (deferred.claimed and not deferred.answered))


def _bot_dependency(
    charge: bool, defer_claim: bool = False, alarm: AlarmReader | None = None
) -> Callable[..., AsyncIterator[Caller]]:
    async def dependency(
        request: Request,
        x_bot_id: str | None = Header(default=None, description="The calling bot's id"),
        webhook_id: str | None = Header(default=None, description="Standard Webhooks message id"),
        webhook_timestamp: str | None = Header(default=None, description="Unix seconds"),
        webhook_signature: str | None = Header(
            default=None, description="`v1,<base64 HMAC-SHA256>` (space-separated for rotation)"
        ),
    ) -> AsyncIterator[Caller]:
        headers = (x_bot_id, webhook_id, webhook_timestamp, webhook_signature)
        async with _bot_session(request, *headers, defer_claim, charge, alarm) as caller:
            yield caller

    return dependency


require_bot = _bot_dependency(charge=True)
# The chat intake: its route charges the bot's rate limit after classifying (see above), and
# claims the webhook-id then too (`claim_deferred`).
require_intake_bot = _bot_dependency(charge=False, defer_claim=True, alarm=chat_message_alarm)


@asynccontextmanager
async def _bot_or_staff(
    request: Request,
    authorization: str | None,
    headers: tuple[str | None, str | None, str | None, str | None],
    defer_claim: bool,
    charge: bool = True,
    alarm: AlarmReader | None = None,
) -> AsyncIterator[Caller]:
    if authorization is not None:
        account = authenticate_staff(request, bearer(authorization))
        if account is None:
            raise fail(401, "bad_staff_token", "staff token required (Authorization: Bearer …)")
        await audit_staff(request, account)
        yield Caller("staff", staff=account)
        return
    session = _bot_session(request, *headers, defer_claim=defer_claim, charge=charge, alarm=alarm)
    async with session as caller:
        yield caller


def _bot_or_staff_dependency(defer_claim: bool) -> Callable[..., AsyncIterator[Caller]]:
    async def dependency(
        request: Request,
        authorization: str | None = Header(default=None, description="Staff: Bearer <token>"),
        x_bot_id: str | None = Header(default=None, description="The calling bot's id"),
        webhook_id: str | None = Header(default=None),
        webhook_timestamp: str | None = Header(default=None),
        webhook_signature: str | None = Header(default=None),
    ) -> AsyncIterator[Caller]:
        headers = (x_bot_id, webhook_id, webhook_timestamp, webhook_signature)
        async with _bot_or_staff(request, authorization, headers, defer_claim) as caller:
            yield caller

    return dependency


# Staff (bearer token) or a signed bot acting for the requester.
require_bot_or_staff = _bot_or_staff_dependency(defer_claim=False)


def submitting_caller(request: Request) -> AbstractAsyncContextManager[Caller]:
    """Staff or a signed bot, as `require_bot_or_staff`, for the lean intake route (it reads
    its own headers: no per-request dependency resolution), and a bot's webhook-id is
    claimed by the route's intake statement (`caller.deferred`): only for a route that makes
    that statement its first write and sends nothing before it (POST /v1/requests). A bot
    is not charged its rate limit here: the route does, once it knows whether the request
    is life-threatening."""
    h = request.headers
    signed = (h.get("x-bot-id"), h.get("webhook-id"), h.get("webhook-timestamp"))
    headers = (*signed, h.get("webhook-signature"))
    return _bot_or_staff(
        request,
        h.get("authorization"),
        headers,
        defer_claim=True,
        charge=False,
        alarm=help_request_alarm,
    )


def ensure_community(caller: Caller, community_id: str) -> None:
    if not caller.may_act_in(community_id):
        raise fail(403, "wrong_community", "this bot is not bound to that community")


BotCaller = Annotated[Caller, Depends(require_bot)]
IntakeBotCaller = Annotated[Caller, Depends(require_intake_bot)]
BotOrStaff = Annotated[Caller, Depends(require_bot_or_staff)]
