"""`/v1/platforms/{platform}/{bot_id}`: the callback URL to give WeCom, DingTalk or Feishu.

Order: an unsigned callback the adapter would have to decrypt first (Feishu's URL check)
takes a token from its own small bucket; the adapter checks signature, freshness and
decryption (no I/O); an event without chat text is answered `ignored` (a fixed label: no
payload string is echoed) and charged nothing; a message is classified by the rules, then
the signed delivery is claimed once (an exact re-send is 409 `replayed`, charged nothing: a
captured emergency replayed cannot spend the emergency allowance; the claim is released
when we answer with an error, a 429 included, so the platform's re-send of that very
delivery is read again); then it is charged: an ordinary one to the bot's rate limit, a
life-threatening one only to the bot's emergency allowance, so chatter never delays an
emergency (beyond that allowance the group is still told to call 120/110/119, nobody is
dispatched); then the
message goes to the same intake as `POST /v1/messages` (a platform retry carries the same
message id: the stored answer comes back, nothing is dispatched twice); a requester's
"不用了" cancels their open request only when the classifier finds no help request in it,
once per platform message (its answer is stored under the message id like a request's: a
retry hours later must not cancel a request made since). Only the request a sender raised in
this group is theirs to cancel: a report merged into a request another group raised is a
co-report, which their "不用了" withdraws (their group stops following it) and never
cancels, and a sender the platform does not name cancels nothing.
Answers are 200 (platforms retry anything else), and the group gets its reply through the
group-reply loop. With PostgreSQL or Kafka out of reach the answer is 503 (nothing is
acknowledged that is not stored: the platform re-sends it), and the group of a
life-threatening message is told to call the number at once all the same (the post recorded
first where PostgreSQL can record it, else sent straight to the group). So is the group of a
message the classifier could not read in time (503 `classify_timeout`: it may be an
emergency), with the line its 503 carries ("如有人生命危险，请立即拨打…"), at most once per
group per `DISPATCH_UNREAD_ADVICE_WINDOW_SECONDS` (`unread_line_due`): in a stall, every
message of a busy group is unread, chatter included, and a line per message would teach the
group to ignore it (a message the rules read as life-threatening always gets its own reply,
a re-send of an unread one once it is read included). Before the live
configuration is loaded (the API started while Kafka, which holds it, was out of reach) the
robot is unknown: its credentials to check and read the callback, and to post to its group,
come with that configuration. The answer is 503 `config_loading` with Retry-After
(`deps.config_loading`): the platform re-sends it, it is read once the configuration is,
and its group is told nothing before then. A text's NUL or lone
surrogate becomes U+FFFD: the platform cannot correct it, so it is read, never refused.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from dispatcher.api import idempotency
from dispatcher.api.auth import DB_UNAVAILABLE
from dispatcher.api.bot_auth import Caller, claim_webhook_id, release_webhook_id
from dispatcher.api.command_queue import advises, outage_answers, produce, request_id_for
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.messages import (
    Admission,
    charge,
    classify,
    emergency_number,
    intake_chat_message,
    life_threatening,
)
from dispatcher.api.models import ChatMessageIn, MessageOut
from dispatcher.api.platforms import ADAPTERS
from dispatcher.api.platforms.base import (
    CallbackRequest,
    DirectAnswer,
    Ignored,
    InboundMessage,
    Refused,
)
from dispatcher.api.ratelimit import RateLimiter, charge_bot, over_allowance_reply
from dispatcher.api.replies import has_phone
from dispatcher.classify import Classification
from dispatcher.groupchat import texts
from dispatcher.groupchat.bots import BotConfig, PlatformConfig
from dispatcher.groupchat.loop import GroupReplies
from dispatcher.record.db import Db
from dispatcher.record.edge import group_threads as threads
from dispatcher.record.edge.group_threads import Thread
from schemas.commands import CancelRequest, Command, ResolveRequest
from schemas.requests import RequestSpec
from schemas.text import UNSTORABLE
from schemas.vocab import Category, Party

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/platforms", tags=["platforms"])

TEXT_MAX = 2000  # the classifier reads the head; a 10 KB message is cut, not refused
NAME_MAX = 64
# Unsigned callbacks an adapter must decrypt before it knows who sent them (Feishu's URL
# check): a platform sends a few when its console saves the URL, nothing more. Their own
# bucket, so forged ones cannot use up the bot's budget for real messages.
UNVERIFIED_PER_MINUTE = 10.0
UNVERIFIED_BURST = 5.0


@runtime_checkable
class DecryptsUnverified(Protocol):
    """An adapter that, for some callbacks, decrypts before the sender is proven."""

    def unverified(self, config: PlatformConfig, req: CallbackRequest) -> bool: ...


def _bot_for(deps: ApiDeps, platform: str, bot_id: str) -> BotConfig:
    bot = deps.bot(bot_id)
    if platform not in ADAPTERS or bot is None or bot.platform is None:
        raise fail(404, "unknown_bot", "no such platform bot")
    if bot.platform.kind != platform:
        raise fail(404, "unknown_bot", "no such platform bot")
    return bot


async def _callback(request: Request, platform: str, bot_id: str) -> Response:
    deps: ApiDeps = request.app.state.deps
    bot = _bot_for(deps, platform, bot_id)
    assert bot.platform is not None
    req = CallbackRequest(
        method=request.method,
        query=dict(request.query_params),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
    )
    adapter = ADAPTERS[platform]
    if isinstance(adapter, DecryptsUnverified) and adapter.unverified(bot.platform, req):
        # Before any decryption: the answers are uniform, and this bounds the guesses too.
        limit = (UNVERIFIED_PER_MINUTE, UNVERIFIED_BURST)
        deps.limiter.check(("unverified", bot.bot_id), *limit, "bot's unsigned callbacks")
    try:
        inbound = adapter.parse(bot.platform, req, deps.wall())
    except Refused as exc:
        raise fail(exc.status, exc.reason, exc.message) from exc
    if isinstance(inbound, DirectAnswer):
        return Response(inbound.body, media_type=inbound.media_type)
    if isinstance(inbound, Ignored):  # nothing to dispatch: no budget, no claim
        return JSONResponse({"ignored": inbound.what})
    try:
        found = await _classified(deps, bot, inbound)
    except HTTPException as exc:
        if exc.status_code == 503 and advises(exc):
            # Not classified in time (`classifying`): it may be "没有呼吸了". Nothing is
            # claimed, so the platform's re-send is read; the group hears the line at once,
            # unless it heard it for another unread message within the window.
            window = deps.settings.unread_advice_window_seconds
            if unread_line_due(deps.limiter, bot.bot_id, inbound.group_id, window):
                reply = str(exc.detail["reply_text"])
                await _tell_unrecorded(request, bot, inbound, reply, UNREAD)
            else:
                log.info("unread message: its group was told the call-now line within %s s", window)
        raise
    if isinstance(found, Response):
        return found
    claimed = False
    try:
        with outage_answers(life_threatening(found), found.advice, emergency_number(found)):
            await claim_webhook_id(deps, bot.bot_id, inbound.replay_key)
            claimed = True
            # Charged once claimed: a replayed delivery was refused 409 above, charged
            # nothing (replaying a captured emergency cannot spend the emergency allowance).
            admitted = charge(deps, bot, found, "platform")
            if admitted.retry_after:
                return await _advice_only(request, bot, inbound, admitted)
            return await _message(request, deps, bot, inbound, admitted)
    except BaseException as exc:
        if claimed:
            # Nothing was accepted for this delivery (a 429 from the group's limit, a 503, a
            # crash): the platform re-sends it unchanged, and that re-send must be read.
            await release_webhook_id(deps, bot.bot_id, inbound.replay_key)
        if isinstance(exc, HTTPException) and exc.status_code == 503 and advises(exc):
            # PostgreSQL or Kafka out of reach: the 503 makes the platform re-send it (it is
            # dispatched once we are back), and the group hears "call 120 now" at once.
            await _tell_unrecorded(request, bot, inbound, str(exc.detail["reply_text"]))
        raise


async def _classified(
    deps: ApiDeps, bot: BotConfig, inbound: InboundMessage
) -> Classification | Response:
    """Before the delivery is claimed: what needs no reading is answered (charged to the
    bot as ordinary), the rest classified (`messages.classify`), charged once claimed."""
    blank = not inbound.text.strip()
    if blank or inbound.group_id not in bot.groups:
        charge_bot(deps.limiter, bot)
        if blank:
            return JSONResponse({"is_request": False})
        if not inbound.is_group:  # a one-to-one chat with the robot: nothing to dispatch
            return JSONResponse({"ignored": "not a configured group chat"})
        raise fail(403, "unknown_group", "this chat is not configured for this bot")
    return await classify(deps, _chat_message(inbound).text)


def unread_line_due(
    limiter: RateLimiter, bot_id: str, group_id: str, window_seconds: float
) -> bool:
    """Whether the group may hear the call-now line for a message not read in time now: at
    most once per `window_seconds` (a bucket of one token, back a window later; `now` is the
    limiter's clock). Per API process, as every rate limit; the keys are bounded by the
    bots' groups (a message from any other was refused before it was classified)."""
    return limiter.wait_for(("unread_line", bot_id, group_id), 60.0 / window_seconds, 1.0) == 0.0


def _thread(bot: BotConfig, inbound: InboundMessage, request_id: str) -> Thread:
    return Thread(
        request_id,
        bot.bot_id,
        inbound.group_id,
        inbound.reply.session_webhook,
        threads.expiry_from_ms(inbound.reply.expires_at_ms),
        inbound.reply.reply_to,
    )


async def _advice_only(
    request: Request, bot: BotConfig, inbound: InboundMessage, admitted: Admission
) -> Response:
    """Life-threatening, but beyond the bot's emergency allowance (`ratelimit.emergency_wait`
    logged it): the group is still told to call the emergency number now (the answer is
    200: the platform would only re-send it), under the id the request would have had."""
    found = admitted.found
    number = emergency_number(found)
    reply = over_allowance_reply(found.advice, number)
    would_be = request_id_for(bot.bot_id, inbound.group_id, inbound.message_id)
    thread = _thread(bot, inbound, would_be)
    await request.app.state.group_replies.immediate(thread, reply, inbound.message_id)
    out = MessageOut(
        is_request=True,
        reply_text=reply,
        advise_emergency_call=True,
        emergency_number=number,
        category=found.category,
        urgency=found.urgency,
    )
    return JSONResponse(out.model_dump(mode="json"))


# Unrecorded advice this process posted straight to a group (PostgreSQL out of reach): a
# platform's re-sends of the same message during the outage are not told again.
_TOLD_UNRECORDED: OrderedDict[str, None] = OrderedDict()
TOLD_UNRECORDED_KEPT = 1000
# The keys' ends: a life-threatening message not taken in (an outage), one not read in time.
UNRECORDED, UNREAD = "unrecorded", "unread"


async def _tell_unrecorded(
    request: Request, bot: BotConfig, inbound: InboundMessage, text: str, why: str = UNRECORDED
) -> None:
    """The call-now reply of a life-threatening message we could not take in, or of one we
    could not read in time (`UNREAD`: it may be one). Recorded first, as every group post
    is, where PostgreSQL can record it (Kafka down): once per platform message, and under
    its own key (`why`), so the reply to the request once it is taken in is still posted, as
    is a re-send's own call-now reply once it is read. With PostgreSQL out of reach it goes
    straight to the group (nothing can record it), once per message in this process."""
    try:
        await _tell(request.app.state.group_replies, bot, inbound, text, why)
    except Exception as exc:  # the 503 still goes out (the caller's advice is in it)
        log.error("call-now advice not posted to the group (%s)", type(exc).__name__)


async def _tell(
    replies: GroupReplies, bot: BotConfig, inbound: InboundMessage, text: str, why: str
) -> None:
    thread = _thread(bot, inbound, request_id_for(bot.bot_id, inbound.group_id, inbound.message_id))
    key = f"{inbound.message_id}:{why}"
    try:
        await replies.immediate(thread, text, key)
        return
    except DB_UNAVAILABLE as exc:
        log.warning(
            "call-now advice sent unrecorded: PostgreSQL out of reach (%s)", type(exc).__name__
        )
    told = f"{bot.bot_id}:{inbound.group_id}:{key}"
    if told in _TOLD_UNRECORDED:
        return
    # GroupReplies records before it sends: this is its one way to a group without PostgreSQL.
    if await replies.send_unrecorded(thread, text, told):
        _TOLD_UNRECORDED[told] = None
        while len(_TOLD_UNRECORDED) > TOLD_UNRECORDED_KEPT:
            _TOLD_UNRECORDED.popitem(last=False)


def _storable(text: str) -> str:
    """A platform's text, which no bot can correct before a re-send: what PostgreSQL and Kafka
    cannot hold (NUL, a lone surrogate: half an emoji the platform cut) becomes U+FFFD, so
    the message is still read (an emergency in it too), never refused 400 on every re-send.
    (A bot's own `POST /v1/messages` is refused 422 instead: it can fix its input.)"""
    return UNSTORABLE.sub("\ufffd", text)


def _chat_message(inbound: InboundMessage) -> ChatMessageIn:
    name = _name(inbound.sender_name)
    try:
        return ChatMessageIn(
            group_id=inbound.group_id,
            message_id=inbound.message_id,
            sender={
                "id": inbound.sender_id or "unknown",
                "name": _storable(name) if name else None,
            },
            text=_storable(inbound.text[:TEXT_MAX]) or " ",
        )
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise fail(400, "malformed", f"unusable platform message ({fields})") from exc


def _name(name: str | None) -> str | None:
    return name[:NAME_MAX] if name else None


async def _message(
    request: Request, deps: ApiDeps, bot: BotConfig, inbound: InboundMessage, admitted: Admission
) -> Response:
    msg = _chat_message(inbound)
    replies = request.app.state.group_replies
    pool = await deps.pool()

    async def cancel_if_asked(found: Classification) -> JSONResponse | None:
        if not inbound.sender_id:  # "unknown": whose request it would be, nobody can tell
            return None
        return await _cancel_if_asked(deps, pool, bot, msg, found, withdraw, not_found, spare)

    async def kept(found: Classification) -> JSONResponse | None:
        """A request worded as keeping one (`rules.keeps`): the sender's open one here, if
        any, is what it names; else it is dispatched."""
        if not inbound.sender_id or not texts.keeps(msg.text) or texts.new_occurrence(msg.text):
            return None  # "那条别取消，楼下李爷爷也摔倒了": news, dispatched
        return await _kept(pool, bot, msg, spare, _kept_as(msg.text, found))

    def thread_for(request_id: str) -> Thread:
        return _thread(bot, inbound, request_id)

    async def withdraw(request_id: str) -> None:
        """A co-report withdrawn: the group is told, then no longer follows the request
        (told first: should the forgetting fail, the platform's re-send finds it again)."""
        thread = thread_for(request_id)
        await replies.immediate(thread, texts.CO_REPORT_WITHDRAWN, msg.message_id)
        await threads.forget(pool, thread)

    async def spare(request_id: str, text: str) -> None:
        """Told in the thread of an older critical request left open by the reply."""
        await replies.immediate(thread_for(request_id), text, msg.message_id)

    async def not_found() -> str | None:
        """No open request of the sender's here: told so, once in a while, and only if they
        asked in this group (`threads.not_found_due`); the text told, or None."""
        senders = [msg.sender.id, texts.co_reporter(msg.sender.id)]
        if not await threads.not_found_due(pool, bot.bot_id, msg.group_id, senders):
            return None
        thread = thread_for(threads.not_found_thread(msg.sender.id))
        try:
            await replies.immediate(thread, texts.NO_OPEN_REQUEST, msg.message_id)
        except BaseException:  # not recorded: the platform's re-send may tell them
            await threads.not_found_undo(pool, bot.bot_id, msg.group_id, msg.sender.id)
            raise
        return texts.NO_OPEN_REQUEST

    asked: list[Thread] = []

    async def before_queue(spec: RequestSpec) -> None:
        # Whether the requester can be called (the ledger's phone of a known sender), a
        # flag on the thread: the group's texts never promise a call otherwise. And the
        # request's place: whom its whistle calls, whatever the group is re-pointed to.
        thread = dataclasses.replace(
            thread_for(spec.request_id),
            requester_phone=has_phone(spec),
            place=threads.place_ids(spec.place),
        )
        await threads.record(pool, thread, msg.sender.id)
        replies.expect(thread)
        asked.append(thread)

    try:
        response = await intake_chat_message(
            request,
            Caller("bot", bot),
            msg,
            before_queue=before_queue,
            not_a_request=cancel_if_asked,
            admission=admitted,
            kept=kept,
        )
    except BaseException:
        for thread in asked:
            replies.release(thread)
        raise
    body = json.loads(bytes(response.body))
    try:
        if body.get("is_request") and body.get("reply_text"):
            thread = thread_for(str(body["request_id"]))
            if asked and thread.request_id != asked[0].request_id:  # merged into an earlier one
                # This group now hears the earlier request's news; the thread recorded for
                # the report's own id (a request that never exists) is dropped. Recorded as
                # a co-report: "不用了" from this sender withdraws it, never cancels a
                # request another group raised (in this group it keeps its raiser).
                await threads.record(pool, thread, texts.co_reporter(msg.sender.id))
                await threads.forget(pool, asked[0])
            # Keyed by this platform message: a second report merged from the same group
            # gets its own answer. Recorded before the 200 (durable), releases its updates.
            await replies.immediate(thread, str(body["reply_text"]), msg.message_id)
    finally:
        for thread in asked:
            replies.release(thread)
    return JSONResponse(body, status_code=200, headers=dict(_replayed(response)))


async def _cancel_if_asked(
    deps: ApiDeps,
    pool: Db,
    bot: BotConfig,
    msg: ChatMessageIn,
    found: Classification,
    withdraw: Callable[[str], Awaitable[None]],
    not_found: Callable[[], Awaitable[str | None]],
    spare: Callable[[str, str], Awaitable[None]],
) -> JSONResponse | None:
    """The requester's "不用了" cancels their open requests, their "已经解决了" resolves them
    (`_cancel_or_withdraw`). Called only for what the classifier found no help request in
    (`texts.cancels`), so a message that also tells of an emergency is dispatched as one,
    never taken for a cancel. A reply keeping them ("别全部取消，摔倒的还需要": `texts.keeps`)
    ends nothing, and its sender hears that their request goes on (`_kept`)."""
    if not texts.cancels(msg.text, found):
        if not found.is_request and texts.keeps(msg.text):
            return await _kept(pool, bot, msg, spare)
        return None
    # Once per message: a platform re-sends a delivery it saw fail, with a new signature,
    # up to hours later (Feishu: 15 s, 5 min, 1 h, 6 h), when "the requester's open
    # request" may be a newer one. Its first answer, "cancelled nothing" included, is kept.
    key = f"cancel:{msg.group_id}:{msg.message_id}"
    prior = await idempotency.begin(
        pool, bot.bot_id, key, idempotency.fingerprint(msg.model_dump(mode="json"))
    )
    if isinstance(prior, idempotency.StoredAnswer):
        return JSONResponse(
            prior.body, status_code=prior.status_code, headers={"Idempotent-Replayed": "true"}
        )
    assert prior is None  # a cancel's answer is stored final, never in flight
    try:
        body = await _cancel_or_withdraw(deps, pool, bot, msg, withdraw, not_found, spare)
    except BaseException:
        await idempotency.abandon(pool, bot.bot_id, key)
        raise
    await idempotency.finish(pool, bot.bot_id, key, 200, body)
    return JSONResponse(body)


async def _kept(
    pool: Db,
    bot: BotConfig,
    msg: ChatMessageIn,
    spare: Callable[[str, str], Awaitable[None]],
    categories: frozenset[str] | None = None,
) -> JSONResponse | None:
    """A reply keeping the sender's requests ends nothing and opens nothing: with one of
    theirs open here, they are told it goes on (in the newest's thread, once per message);
    else None: chat when the classifier read no request in it ("别全部取消"), dispatched
    when it read one ("别取消，摔倒的还需要" after theirs closed, or from one who never
    asked here: a fall nobody is coming to; `rules.keeps` marks it, never drops it). This
    message's own request (a re-send of one dispatched) is not one kept: its answer is
    replayed. A request read in it is kept only by an open one of its category
    (`categories`, `_kept_as`): "那条别取消，孩子发高烧了" with groceries open is a fever
    nobody is coming to (a duplicate dispatched is the safe mistake)."""
    own = request_id_for(bot.bot_id, msg.group_id, msg.message_id)
    found = await threads.open_requests_of(pool, bot.bot_id, msg.group_id, msg.sender.id)
    if not found or own in found:
        return None
    named = found
    if categories is not None:
        of = await categories_of(pool, found)
        named = [r for r in found if of.get(r) in categories]
        if not named:
            return None
    await spare(named[0], texts.KEPT)
    return JSONResponse({"is_request": False, "still_open": found, "reply_text": texts.KEPT})


# A fall with a medical red flag ("摔倒了起不来，头在流血") is recorded medical: "摔倒的还需要"
# names it too, but only where the fall is said of the request kept (`texts.names_kept`).
_RECORDED_AS = {Category.FALL: Category.MEDICAL}


def _kept_as(text: str, found: Classification) -> frozenset[str]:
    """The categories an open request kept by `text` may have: the one read in it; and,
    when the situation is said of the request kept, the one it is recorded as when raised."""
    if found.category is None:
        return frozenset()
    raised = _RECORDED_AS.get(found.category)
    words = [r.split(":", 2)[2] for r in found.reasons if r.startswith(f"cue:{found.category}:")]
    named = raised is not None and any(texts.names_kept(text, w) for w in words)
    return frozenset({found.category.value, *([raised.value] if raised and named else [])})


# The read (SQL) lives with the threads' other statements; a name here for the tests' fakes.
categories_of = threads.categories_of


_CLOSE_NS = uuid.UUID("6f4d3c1e-2b7a-4e0f-9c58-1d2e3f4a5b6c")


def closing_command_id(bot_id: str, group_id: str, message_id: str, request_id: str) -> str:
    """One closing reply's command for one of the sender's requests: derived, so a send
    that failed half-way and is tried again is the same command for each request."""
    return str(uuid.uuid5(_CLOSE_NS, f"{bot_id}\n{group_id}\n{message_id}\n{request_id}"))


async def _cancel_or_withdraw(
    deps: ApiDeps,
    pool: Db,
    bot: BotConfig,
    msg: ChatMessageIn,
    withdraw: Callable[[str], Awaitable[None]],
    not_found: Callable[[], Awaitable[str | None]],
    spare: Callable[[str, str], Awaitable[None]],
) -> dict[str, Any]:
    """Every open request the sender raised in this group is cancelled, or resolved when
    the reply says it was solved (`texts.is_solved_reply`: "已经解决了，谢谢邻居" after a
    neighbour helped must not stand that neighbour down as "求助人已取消" nor refuse their
    已完成; with nobody assigned a resolve stands the offers down as a cancel would, and
    the need is met, so "不用了，已经解决" resolves too). Every one: a re-post the intake did
    not merge (no building named) is a second request of the same need, and one "不用了"
    ending only the newest left the first climbing to the whistle. The answer names the
    newest (`cancelled` / `resolved`) and the others (`also_cancelled` / `also_resolved`);
    the group hears the newest's end only (the others' threads in the group are dropped).
    With several open, or a reply that keeps one ("买菜的不用了，摔倒的别取消"), a critical or
    life-threatening one is not ended (`threads.grave_among`), the newest no more than the
    others: a 网格员 or staff member
    relays several residents' needs in one group, and "买菜的不用了" must not stand down the
    helpers of a fall asked before the groceries, nor of one asked after them. It stays open
    (`still_open`), the group is told so (`texts.spared`), and "全部取消" (`texts.ends_all`,
    only as the whole reply) ends it too. The sender's one open request is ended whatever it
    is, unless the reply keeps one.
    Failing that, a report of theirs merged into a request another group raised (which
    others depend on) is withdrawn: this group stops following it, the request goes on.
    Neither: the sender is told none of theirs is open (`not_found`), not left in silence."""
    found = await threads.open_requests_of(pool, bot.bot_id, msg.group_id, msg.sender.id)
    if found:
        community = bot.groups[msg.group_id].community_id
        solved = texts.is_solved_reply(msg.text)
        # "买菜的不用了，摔倒的别取消": a critical one is kept even when it is the only one open.
        several = (len(found) > 1 or texts.keeps_some(msg.text)) and not texts.ends_all(msg.text)
        grave = await threads.grave_among(pool, found) if several else set()
        own = [r for r in found if r not in grave]
        for request_id in own:
            body: ResolveRequest | CancelRequest = (
                ResolveRequest(request_id=request_id, by=Party.REQUESTER, note="群内回复已解决")
                if solved
                else CancelRequest(request_id=request_id, by=Party.REQUESTER, reason="群内回复取消")
            )
            command_id = closing_command_id(bot.bot_id, msg.group_id, msg.message_id, request_id)
            command = Command(
                command_id=command_id,
                community_id=community,
                issued_at=deps.clock(),
                body=body,
            )
            await produce(deps, command)
        for request_id in own[1:]:
            # The group hears their end once, the newest's: the others' threads here go once
            # all are queued (the loop would post "求助已取消" for each). Should one's event be
            # read first, it is posted, as before; none is dropped before its end is queued.
            await threads.forget(pool, Thread(request_id, bot.bot_id, msg.group_id))
        done = "resolved" if solved else "cancelled"
        out: dict[str, Any] = {"is_request": False}
        if own:
            out[done] = own[0]
        if own[1:]:
            out["also_" + done] = own[1:]
        kept = [r for r in found if r in grave]
        if kept:
            out["still_open"] = kept
            out["reply_text"] = texts.spared(len(kept), ended=bool(own))
            await spare(kept[0], out["reply_text"])
        return out
    merged = await threads.open_requests_of(
        pool, bot.bot_id, msg.group_id, texts.co_reporter(msg.sender.id)
    )
    for request_id in merged:  # the group is told once (the post is keyed by the message)
        await withdraw(request_id)
    if merged:
        out = {"is_request": False, "withdrawn": merged[0]}
        return out | ({"also_withdrawn": merged[1:]} if merged[1:] else {})
    told = await not_found()
    return MessageOut(is_request=False, reply_text=told).model_dump(mode="json")


def _replayed(response: Response) -> list[tuple[str, str]]:
    value = response.headers.get("idempotent-replayed")
    return [("Idempotent-Replayed", value)] if value else []


@router.get("/{platform}/{bot_id}", include_in_schema=True)
async def verify_url(request: Request, platform: str, bot_id: str) -> Response:
    """WeCom's URL verification (GET with msg_signature, timestamp, nonce, echostr)."""
    return await _callback(request, platform, bot_id)


@router.post("/{platform}/{bot_id}")
async def platform_callback(request: Request, platform: str, bot_id: str) -> Response:
    """A platform robot's callback: `wecom`, `dingtalk` or `feishu` (see each adapter)."""
    return await _callback(request, platform, bot_id)
