"""Raw chat messages from bots: classify, and dispatch only what is a help request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from dispatcher.api.bot_auth import Caller, IntakeBotCaller, claim_deferred, ensure_community
from dispatcher.api.chat_spec import spec_for_message
from dispatcher.api.classifying import classify_off_loop
from dispatcher.api.command_queue import outage_answers, request_id_for, submit_once
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.households import with_ledger_contact
from dispatcher.api.llm_classifier import refine_with_llm
from dispatcher.api.models import Accepted, ChatMessageIn, MessageOut
from dispatcher.api.ratelimit import charge_bot, charge_group, emergency_wait, over_allowance
from dispatcher.classify.rules import keeps
from schemas.requests import emergency_number_for
from schemas.requests import life_threatening as life_threatening_rule
from schemas.vocab import EmergencyNumber

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from dispatcher.classify import Classification
    from dispatcher.groupchat.bots import BotConfig, GroupPlace, MemberLink
    from schemas.requests import RequestSpec

router = APIRouter(prefix="/v1/messages", tags=["bots"])

IDEMPOTENCY_KEY = Header(
    default=None,
    max_length=128,
    description="Optional; defaults to the group and message id of the chat message",
)


@router.post(
    "",
    status_code=202,
    response_model=MessageOut,
    responses={200: {"model": MessageOut, "description": "Not a help request: nothing sent"}},
)
async def post_message(
    msg: ChatMessageIn,
    request: Request,
    caller: IntakeBotCaller,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> JSONResponse:
    """A chat message as the bot saw it. 202 with the request id and a reply to post when it
    is a help request (queued with acks=all before answering), and `report_id`, the
    message's own (request_id unless `merged`: cancel or resolve with it to withdraw that
    report only, as on `POST /v1/requests`); 200 `is_request: false` otherwise.
    Life-threatening: the reply says to call 120/119/110 first. Rate limits are charged once
    the message is classified and its webhook-id claimed (a replay is 409, charged nothing):
    an emergency never waits behind chatter (and beyond the bot's emergency allowance gets
    429 `emergency_rate_limited` carrying the call-now `reply_text` to post)."""
    return await intake_chat_message(request, caller, msg, idempotency_key)


@dataclass(frozen=True)
class Admission:
    """A chat message classified by the rules (local; red flags are theirs alone, never the
    LLM's) and charged to the bot's matching limit (the group's, for an ordinary one,
    comes in `intake_chat_message`). `retry_after` > 0: life-threatening but over the bot's
    emergency allowance, so only the call-now advice can be given."""

    found: Classification
    retry_after: int = 0


def life_threatening(found: Classification) -> bool:
    """By the rule its request's spec will follow (`spec_for_message`: the classifier's red
    flag, else critical urgency in a kind where life is at risk): one rule, not two."""
    return life_threatening_rule(found.urgency, found.category, _said(found))


def emergency_number(found: Classification) -> EmergencyNumber | None:
    """Whom to call now, as the request's spec will say it (`RequestSpec.emergency`)."""
    return emergency_number_for(found.urgency, found.category, _said(found), found.emergency_number)


def _said(found: Classification) -> bool | None:
    return True if found.advise_emergency_call else None


async def classify(deps: ApiDeps, text: str) -> Classification:
    """By the rules, locally (no PostgreSQL, nothing charged): the first step, so that an
    outage is answered knowing whether the message is an emergency."""
    return await classify_off_loop(text, deps.settings.classify_timeout_seconds)


def charge(deps: ApiDeps, bot: BotConfig, found: Classification, route: str) -> Admission:
    """Once its delivery is claimed (a replay was refused 409 before, charged nothing): an
    ordinary message the bot's bucket (429 when over), a life-threatening one the bot's
    emergency allowance only, so chatter in any group can never refuse an emergency, and
    replaying one captured emergency can never spend that allowance."""
    if not life_threatening(found):
        charge_bot(deps.limiter, bot)
        return Admission(found)
    return Admission(found, emergency_wait(deps.limiter, bot, route))


def known_sender(spec: RequestSpec, member: MemberLink | None) -> RequestSpec:
    """The sender is a known helper / household (the bot's member map): pairing (结对)
    starts from their household, and they are never offered their own request."""
    if member is None:
        return spec
    place = spec.place
    if member.household_id is not None and place.household_id is None:
        place = place.model_copy(update={"household_id": member.household_id})
    return spec.model_copy(
        update={"requester_helper_id": member.helper_id or spec.requester_helper_id, "place": place}
    )


async def intake_chat_message(
    request: Request,
    caller: Caller,
    msg: ChatMessageIn,
    idempotency_key: str | None = None,
    before_queue: Callable[[RequestSpec], Awaitable[None]] | None = None,
    not_a_request: Callable[[Classification], Awaitable[JSONResponse | None]] | None = None,
    admission: Admission | None = None,
    kept: Callable[[Classification], Awaitable[JSONResponse | None]] | None = None,
) -> JSONResponse:
    """The one chat-message intake, for signed bots and platform adapters alike. A sender
    in the bot's member map is known (`known_sender`); `before_queue` runs once the
    message is a request, before it is queued (platforms record the reply thread);
    `not_a_request` only once the classifier found no help request (platforms: a
    requester's "不用了" cancels), its answer, if any, replacing `is_request: false`;
    `kept` only for a request worded as keeping one (`rules.keeps`: "别全部取消，摔倒的还
    需要"), its answer, if any, replacing the dispatch (platforms: the sender's own request
    open in the group is the one named). Without one (`/v1/messages`: no thread of its
    senders) it is dispatched as the request it reads: a duplicate is the safe mistake.
    `admission`: the message as the caller classified and charged it (`classify`, its
    delivery claimed, then `charge`); else it is classified, claimed and charged here."""
    deps: ApiDeps = request.app.state.deps
    bot = caller.bot
    assert bot is not None
    group = bot.groups.get(msg.group_id)
    if group is None:
        raise fail(403, "unknown_group", "this group is not configured for this bot")
    ensure_community(caller, group.community_id)
    found = admission.found if admission is not None else await classify(deps, msg.text)
    with outage_answers(life_threatening(found), found.advice, emergency_number(found)):
        if caller.deferred is not None and not caller.deferred.claimed:
            # Read and classified before PostgreSQL is asked: with it out of reach, an
            # emergency's 503 still carries the call-now advice. A replay: 409 here, before
            # any limit is charged (a 429 after this gives the id back: `bot_auth`).
            await claim_deferred(deps, caller.deferred)
        if admission is None:
            admission = charge(deps, bot, found, "messages")
        if admission.retry_after:
            raise over_allowance(found.advice, emergency_number(found), admission.retry_after)
        return await _take_in(
            request, bot, group, msg, found, idempotency_key, before_queue, not_a_request, kept
        )


async def _take_in(
    request: Request,
    bot: BotConfig,
    group: GroupPlace,
    msg: ChatMessageIn,
    found: Classification,
    idempotency_key: str | None,
    before_queue: Callable[[RequestSpec], Awaitable[None]] | None,
    not_a_request: Callable[[Classification], Awaitable[JSONResponse | None]] | None,
    kept: Callable[[Classification], Awaitable[JSONResponse | None]] | None = None,
) -> JSONResponse:
    """`intake_chat_message` once the message is admitted (and its webhook-id claimed)."""
    deps: ApiDeps = request.app.state.deps
    if not life_threatening(found):
        charge_group(deps.limiter, bot, msg.group_id)
    c = await refine_with_llm(request.app.state, deps.settings, msg.text, found)
    if not c.is_request:
        answer = await not_a_request(c) if not_a_request is not None else None
        if answer is not None:
            return answer
        return JSONResponse(MessageOut(is_request=False).model_dump(mode="json"), status_code=200)
    if kept is not None and keeps(c) and (answer := await kept(c)) is not None:
        return answer
    spec = spec_for_message(
        msg,
        c,
        group,
        request_id=request_id_for(bot.bot_id, msg.group_id, msg.message_id),
        bot_id=bot.bot_id,
    )
    member = bot.members.get(msg.sender.id)
    spec = known_sender(spec, member)
    if member is not None and member.household_id is not None:
        # The platform gives an id and a name only: the helper's phone to call comes from
        # the household ledger, as a card press of the same household has it.
        spec = await with_ledger_contact(await deps.pool(), spec, member.household_id)
    if before_queue is not None:
        await before_queue(spec)

    def render(accepted: Accepted) -> dict[str, Any]:
        return MessageOut(
            is_request=True,
            request_id=accepted.request_id,
            reply_text=accepted.reply_text,
            advise_emergency_call=accepted.advise_emergency_call,
            emergency_number=accepted.emergency_number,
            merged=accepted.merged,
            report_id=accepted.report_id,  # a merged report's own: withdraws it only
            category=spec.category,
            urgency=spec.urgency,
            helpers_needed=spec.helpers_needed,
        ).model_dump(mode="json")

    return await submit_once(
        request,
        spec,
        bot_id=bot.bot_id,
        idempotency_key=idempotency_key or f"msg:{msg.group_id}:{msg.message_id}",
        payload=msg.model_dump(mode="json"),
        advice=c.advice,
        render=render,
    )
