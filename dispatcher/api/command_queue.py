"""The command queue: every command the API acknowledges goes to Kafka here (acks=all).
A help request first passes idempotency and the merging of duplicate reports.

The same incident reported from two groups within minutes (same community, compound,
building and category) becomes one request: the second report gets the first request's id
and a reply, and nothing is dispatched twice. The check and the intake row are made under
a PostgreSQL advisory lock on the merge key, so two API instances cannot both miss each
other; that, the idempotency claim, the intake row and (for a signed bot's
`POST /v1/requests`) the webhook-id claim are one round trip (`intake.submit`). The
remaining race: the read model lags the worker by milliseconds, so a report that arrives
just as the earlier request closed may still be merged into it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from dispatcher.api import idempotency
from dispatcher.api.bot_auth import DeferredClaim, replayed
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.models import Accepted
from dispatcher.api.replies import emergency_for, merged_reply_text, reply_text
from dispatcher.config.policies import policy_for
from dispatcher.ops.api_metrics import observe_request_merged, observe_request_submitted
from dispatcher.record.edge import intake
from dispatcher.sealing import keyring, seal_spec
from schemas.commands import Command, CommandBody, SubmitRequest, new_command
from schemas.plans import PLAN_SETS
from schemas.requests import RequestSpec

MERGE_WINDOW_S = 15 * 60
_REQUEST_NS = uuid.UUID("3b0f2f8e-5a43-4f0b-9a53-3f4f0d6f2a71")


def request_id_for(bot_id: str, group_id: str | None, message_id: str) -> str:
    """Deterministic: a retry of the same chat message maps to the same request, so even a
    lost idempotency row cannot open a second one (the core ignores a known request id)."""
    return str(uuid.uuid5(_REQUEST_NS, f"{bot_id}\n{group_id or ''}\n{message_id}"))


def merge_key(spec: RequestSpec) -> str | None:
    """Only a known building makes two reports the same incident; a whole compound is too
    coarse (two falls in one compound are two requests)."""
    place = spec.place
    if place.compound_id is None or place.building_id is None:
        return None
    return "|".join((spec.community_id, place.compound_id, place.building_id, spec.category))


async def produce(deps: ApiDeps, command: Command, as_json: str | None = None) -> None:
    """`as_json`: the command already serialised (the outbox copy), not serialised twice."""
    value = (as_json if as_json is not None else command.model_dump_json()).encode()
    try:
        await deps.sink.send(deps.settings.commands_topic, command.community_id, value)
    except Exception as exc:
        # Not acknowledged: the caller must retry (bots do), so say so with 503.
        raise fail(
            503,
            "queue_unavailable",
            f"could not queue the command ({type(exc).__name__}); please retry",
            {"Retry-After": "2"},
        ) from exc


async def send_command(deps: ApiDeps, body: CommandBody, community_id: str) -> str:
    command = new_command(body, community_id=community_id, issued_at=deps.clock())
    await produce(deps, command)
    return command.command_id


@dataclass(frozen=True)
class _Claim:
    bot_id: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class _Recorded:
    submitted: intake.Submitted
    command: Command
    command_json: str


async def _record(
    deps: ApiDeps,
    spec: RequestSpec,
    bot_id: str | None,
    merge: bool,
    claim: _Claim | None,
    webhook: DeferredClaim | None = None,
) -> _Recorded:
    """The API's PostgreSQL part, in one round trip (one statement, its own transaction):
    the webhook-id claim (a replay: 409, nothing written), the idempotency claim, the merge
    check under the merge key's lock, the intake row."""
    key = merge_key(spec) if merge else None
    # Sealed before the intake row (the outbox) is written: neither it nor Kafka holds the
    # contact or the text in the clear.
    sealed = seal_spec(keyring(deps.settings), spec)
    command = new_command(
        SubmitRequest(spec=sealed), community_id=spec.community_id, issued_at=deps.clock()
    )
    command_json = command.model_dump_json()
    pool = await deps.pool()
    submitted = await intake.submit(
        pool,
        webhook=webhook.webhook if webhook else None,
        bot_id=bot_id,
        key=claim.key if claim else None,
        fingerprint=claim.fingerprint if claim else None,
        request_id=spec.request_id,
        community_id=spec.community_id,
        merge_key=key,
        command_json=command_json,
        window_s=float(MERGE_WINDOW_S),
    )
    if submitted.replayed:
        raise replayed()
    if webhook is not None:
        webhook.claimed = True  # ours now: a 5xx from here on releases it (bot_auth)
    return _Recorded(submitted, command, command_json)


async def _queue(
    deps: ApiDeps, spec: RequestSpec, advice: str | None, recorded: _Recorded
) -> Accepted:
    submitted, command = recorded.submitted, recorded.command
    number = emergency_for(spec)
    hotlines = deps.config.hotlines(spec.community_id)
    held_until = _quiet_until(deps, spec, command)
    if submitted.earlier is not None:
        observe_request_merged(spec)
        return Accepted(
            request_id=submitted.earlier,
            merged=True,
            reply_text=merged_reply_text(spec, advice, hotlines),
            advise_emergency_call=number is not None,
            emergency_number=number,
        )
    # The intake row (committed above) is the outbox: should Kafka refuse or the API die
    # here, the caller gets no 202, and the unrecorded sweeper re-sends the stored command
    # (a report merged into this request meanwhile is therefore never lost either).
    await produce(deps, command, recorded.command_json)
    observe_request_submitted(spec)
    return Accepted(
        request_id=spec.request_id,
        reply_text=reply_text(spec, advice, hotlines, held_until),
        advise_emergency_call=number is not None,
        emergency_number=number,
    )


def _quiet_until(deps: ApiDeps, spec: RequestSpec, command: Command) -> str | None:
    """When the worker will send out a request it holds for quiet hours (local HH:MM), by
    the same rule and the same time (the command's) as the core: the group hears it now."""
    community = deps.config.community(spec.community_id)
    if community is None or community.quiet_hours is None:
        return None
    policy = policy_for(community, PLAN_SETS)
    until = policy.quiet_until(spec, command.issued_at)
    return None if until is None else policy.local_time(until)


def _as_is(accepted: Accepted) -> dict[str, Any]:
    return accepted.model_dump(mode="json")


async def submit_once(
    request: Request,
    spec: RequestSpec,
    *,
    bot_id: str | None,
    idempotency_key: str | None,
    payload: Any,
    advice: str | None = None,
    render: Callable[[Accepted], dict[str, Any]] = _as_is,
    merge: bool = True,
    webhook: DeferredClaim | None = None,
) -> JSONResponse:
    """202 with `render(accepted)`; a retry with the same key gets the very same answer.
    `merge=False` (staff): a request made on purpose is never folded into another.
    `webhook`: the signed bot's webhook-id, claimed first in the same statement (its route
    has written and sent nothing before)."""
    deps: ApiDeps = request.app.state.deps
    claim = None
    if idempotency_key is not None and bot_id is not None:
        claim = _Claim(bot_id, idempotency_key, idempotency.fingerprint(payload))
    recorded = await _record(deps, spec, bot_id, merge, claim, webhook)
    if claim is None:
        accepted = await _queue(deps, spec, advice, recorded)
        return JSONResponse(render(accepted), status_code=202)
    pool = await deps.pool()
    if not recorded.submitted.claimed:
        # A known key (rare): replay its answer, refuse (422/409), or take over a stale one.
        stored = await idempotency.begin(pool, claim.bot_id, claim.key, claim.fingerprint)
        if stored is not None:
            return JSONResponse(
                stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
            )
    try:
        if not recorded.submitted.claimed:
            recorded = await _record(deps, spec, bot_id, merge, None)
        body = render(await _queue(deps, spec, advice, recorded))
    except BaseException:
        await idempotency.abandon(pool, claim.bot_id, claim.key)
        raise
    # The answer is stored only now, after Kafka's ack, in its own round trip, and before
    # the 202. Stored earlier (in the intake statement, as `done`), a retry arriving while
    # the send is under way or after Kafka refused it would be handed a 202 for a command
    # Kafka does not have, leaving the acknowledgement to the sweeper (defence in depth,
    # which may be off). Stored after the 202, a retry right after it would meet `in_flight`
    # (409) instead of the answer. So this round trip stays.
    await idempotency.finish(pool, claim.bot_id, claim.key, 202, body)
    return JSONResponse(body, status_code=202)
