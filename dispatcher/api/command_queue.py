"""The command queue: every command the API acknowledges goes to Kafka here (acks=all).
A help request first passes idempotency and the merging of duplicate reports.

The same incident reported from two groups within minutes (same community, compound,
building, category and flat, or none named) becomes one request: the second report gets
the first request's id and a reply, and nothing is dispatched twice. The check and the
intake row are made under a PostgreSQL advisory lock on the merge key, so two API
instances cannot both miss each other; that, the idempotency claim, the intake row and
(for a signed bot's `POST /v1/requests`) the webhook-id claim are one round trip
(`intake.submit`). The remaining race: the read model lags the worker by milliseconds, so
a report that arrives just as the earlier request closed may still be merged into it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

from dispatcher.api import idempotency, server_timing
from dispatcher.api.auth import DB_RETRY_AFTER_S, DB_UNAVAILABLE
from dispatcher.api.bot_auth import DeferredClaim, replayed
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.models import Accepted
from dispatcher.api.ratelimit import with_advice
from dispatcher.api.replies import emergency_for, merged_reply_text, reply_text
from dispatcher.config.policies import policy_for
from dispatcher.ops.api_metrics import observe_request_merged, observe_request_submitted
from dispatcher.record.edge import bot_calls, intake, repeat_reports
from dispatcher.record.read import requests as read_requests
from dispatcher.redact import fold_digits
from dispatcher.sealing import KeyRing, keyring, seal_spec
from schemas.commands import Command, CommandBody, SubmitRequest, new_command
from schemas.plans import PLAN_SETS
from schemas.requests import RequestSpec
from schemas.vocab import EmergencyNumber

MERGE_WINDOW_S = 15 * 60
_REQUEST_NS = uuid.UUID("3b0f2f8e-5a43-4f0b-9a53-3f4f0d6f2a71")


def request_id_for(bot_id: str, group_id: str | None, message_id: str) -> str:
    """Deterministic: a retry of the same chat message maps to the same request, so even a
    lost idempotency row cannot open a second one (the core ignores a known request id)."""
    return str(uuid.uuid5(_REQUEST_NS, f"{bot_id}\n{group_id or ''}\n{message_id}"))


def merge_key(spec: RequestSpec, flat: str | None = None) -> str | None:
    """Two reports are one incident only at a known building (a whole compound is too
    coarse: two falls in one compound are two requests), of the same kind, urgency and
    emergency number, of the same household or one not known, and naming the same flat
    or none: a critical report never disappears into an earlier normal one, nor two
    flats' needs into one request. Duplicate dispatch is the safe failure, a lost
    emergency is not. Given the sealed spec, whose household is keyed, and the keyed flat
    (`flat_key`) taken from the spec before sealing: the key is stored, and never holds a
    household id or a flat in the clear."""
    place = spec.place
    if place.compound_id is None or place.building_id is None:
        return None
    alarm = (spec.emergency() or "life") if spec.is_life_threatening() else "-"
    household = spec.household_for_pairing() or "-"
    where = (spec.community_id, place.compound_id, place.building_id)
    # A report naming no flat keeps the key it had before flats counted (a rolling upgrade
    # merges as before); one naming a flat merges only with reports naming the same.
    tail = (flat,) if flat else ()
    return "|".join((*where, spec.category, spec.urgency, alarm, household, *tail))


def flat_of(spec: RequestSpec) -> str | None:
    """The flat below the building a report names, as its numbers in order: the unit and
    floor of its place and every number of its exact address but the compound's and the
    building's own ("3号楼2单元502室": 2 502), so "502" and "1201" differ whatever the words
    around them; None when it names none. Read from the spec before sealing (the sealed
    one holds neither in the clear)."""
    address = fold_digits(spec.contact.address or "")
    place = spec.place
    for name in (place.compound_name, place.building_name):
        if name:
            address = address.replace(fold_digits(name), " ", 1)
    numbers = re.findall(r"\d+", address)
    head = [place.unit or "", "" if place.floor is None else str(place.floor)]
    if not numbers and not any(head):
        return None
    return " ".join([*head, *numbers])


def flat_key(ring: KeyRing, spec: RequestSpec) -> str | None:
    """`flat_of` as it may be stored: keyed per community like a household id."""
    flat = flat_of(spec)
    return None if flat is None else ring.household_key(spec.community_id, f"flat\n{flat}")


async def produce(deps: ApiDeps, command: Command, as_json: str | None = None) -> None:
    """`as_json`: the command already serialised (the outbox copy), not serialised twice."""
    value = as_json if as_json is not None else command.model_dump_json()
    await send_json(deps, command.community_id, value)


async def send_json(deps: ApiDeps, community_id: str, command_json: str) -> None:
    try:
        await deps.sink.send(deps.settings.commands_topic, community_id, command_json.encode())
    except Exception as exc:
        # Not acknowledged: the caller must retry (bots do), so say so with 503.
        raise fail(
            503,
            "queue_unavailable",
            f"could not queue the command ({type(exc).__name__}); please retry",
            {"Retry-After": "2"},
        ) from exc


def database_unavailable(exc: BaseException) -> HTTPException:
    return fail(
        503,
        "database_unavailable",
        f"the database is out of reach ({type(exc).__name__}): nothing was acknowledged; "
        "please retry (the message id / Idempotency-Key keeps a retry from dispatching twice)",
        {"Retry-After": DB_RETRY_AFTER_S},
    )


@contextmanager
def outage_answers(
    life_threatening: bool, advice: str | None, number: EmergencyNumber | None
) -> Iterator[None]:
    """PostgreSQL or Kafka out of reach while a message or request is taken in: 503 with a
    reason (`database_unavailable`, `queue_unavailable`) and Retry-After, never a 2xx for
    what is not durably stored. A life-threatening one's 503 carries the call-now reply to
    post (`reply_text`, `advise_emergency_call`, `emergency_number`, as its 202 would):
    never a bare refusal for a life-threatening message. So does its 409 `in_flight` (a
    retry meeting its first copy still being taken in, which may yet fail), and a refusal
    of its id (`refused_id`: a key reused for another request, an id an earlier request took):
    a life-threatening request's every refusal tells the group to call now."""
    try:
        yield
    except DB_UNAVAILABLE as exc:
        refusal = database_unavailable(exc)
        raise (with_advice(refusal, advice, number) if life_threatening else refusal) from exc
    except HTTPException as exc:
        if life_threatening and (not_taken_in(exc) or refused_id(exc)) and not advises(exc):
            raise with_advice(exc, advice, number) from exc
        raise


def request_id_taken() -> HTTPException:
    """The request id (from the caller's message id or Idempotency-Key) is an earlier
    request's: its key was forgotten after a day, but the id is not, and a command sent for
    it would be dropped as a known request. Nothing written, nothing sent."""
    return fail(
        409,
        "request_id_taken",
        "this Idempotency-Key / message id was used for an earlier request; use a new one "
        "(nothing was dispatched)",
    )


# Refusals of a request for its id, whatever its content: a life-threatening one is told
# to call now all the same (`outage_answers`).
_ID_REFUSALS = frozenset({"idempotency_key_reused", "request_id_taken"})


def not_taken_in(exc: HTTPException) -> bool:
    """A refusal that leaves the message not (yet) taken in, to be retried: an outage's
    503, or its first copy still in flight (409 `in_flight`)."""
    if exc.status_code == 503:
        return True
    return isinstance(exc.detail, dict) and exc.detail.get("reason") == "in_flight"


def refused_id(exc: HTTPException) -> bool:
    """Refused for its id (`_ID_REFUSALS`): 422 `idempotency_key_reused`, 409
    `request_id_taken`. Not taken in either: the caller must use a new key."""
    return isinstance(exc.detail, dict) and exc.detail.get("reason") in _ID_REFUSALS


def advises(exc: HTTPException) -> bool:
    """The refusal carries the call-now reply to post (`ratelimit.with_advice`)."""
    return isinstance(exc.detail, dict) and "reply_text" in exc.detail


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
    fresh: Accepted  # the answer if this is a new request (not merged)
    fresh_body: dict[str, Any]  # `fresh`, rendered once
    fresh_json: str  # and serialised once: stored with a claimed key and sent as is
    answer_stored: bool  # `fresh_json` was stored with the key (still in flight)

    def answer(self, accepted: Accepted, render: Render) -> tuple[dict[str, Any], bytes]:
        """The rendered answer and its bytes (`fresh`'s as rendered before the statement)."""
        if accepted is self.fresh:
            return self.fresh_body, self.fresh_json.encode()
        body = render(accepted)
        return body, as_json(body).encode()


Render = Callable[[Accepted], dict[str, Any]]


def as_json(body: dict[str, Any]) -> str:
    """As Starlette's JSONResponse renders it."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


async def _record(
    deps: ApiDeps,
    spec: RequestSpec,
    bot_id: str | None,
    merge: bool,
    claim: _Claim | None,
    webhook: DeferredClaim | None,
    advice: str | None,
    render: Render,
) -> _Recorded:
    """The API's PostgreSQL part, in one round trip (one statement, its own transaction):
    the webhook-id claim (a replay: 409, nothing written), the idempotency claim, the merge
    check under the merge key's lock, the intake row, and with a claimed key the answer to
    a new request, stored in flight (`idempotency.py`)."""
    # Sealed before the intake row (the outbox) is written: neither it nor Kafka holds the
    # contact or the text in the clear.
    ring = keyring(deps.settings)
    sealed = seal_spec(ring, spec)
    key = merge_key(sealed, flat_key(ring, spec)) if merge else None
    command = new_command(
        SubmitRequest(spec=sealed), community_id=spec.community_id, issued_at=deps.clock()
    )
    command_json = command.model_dump_json()
    fresh = _fresh_answer(deps, spec, advice, command)
    fresh_body = render(fresh)
    fresh_json = as_json(fresh_body)
    answer_json = fresh_json if claim is not None else None
    server_timing.mark("prepare")
    submitted = await intake.submit(
        deps.intake_db,
        webhook=webhook.webhook if webhook else None,
        bot_id=bot_id,
        key=claim.key if claim else None,
        fingerprint=claim.fingerprint if claim else None,
        request_id=spec.request_id,
        community_id=spec.community_id,
        merge_key=key,
        command_json=command_json,
        window_s=float(MERGE_WINDOW_S),
        issued_at=command.issued_at,  # a merged report's `ReportRepeated`'s, if merged
        answer_json=answer_json,
    )
    server_timing.mark("statement")
    if submitted.replayed:
        raise replayed()
    if webhook is not None:
        webhook.claimed = True  # ours now: a 5xx from here on releases it (bot_auth)
    if submitted.taken:
        raise request_id_taken()
    stored = answer_json is not None and submitted.claimed and submitted.earlier is None
    return _Recorded(submitted, command, command_json, fresh, fresh_body, fresh_json, stored)


def _fresh_answer(
    deps: ApiDeps, spec: RequestSpec, advice: str | None, command: Command
) -> Accepted:
    number = emergency_for(spec)
    hotlines = deps.config.hotlines(spec.community_id)
    return Accepted(
        request_id=spec.request_id,
        report_id=spec.request_id,
        reply_text=reply_text(spec, advice, hotlines, _quiet_until(deps, spec, command)),
        advise_emergency_call=number is not None,
        emergency_number=number,
    )


async def _queue(
    deps: ApiDeps, spec: RequestSpec, advice: str | None, recorded: _Recorded
) -> Accepted:
    submitted = recorded.submitted
    if submitted.earlier is not None:
        # The earlier report's send may have been refused (503) and its bot may never
        # retry: this 202 acknowledges that request too, so Kafka must have its command
        # first, not only the unrecorded sweeper (which may be off). Sent again as a
        # retry does (`_send_again`): the same command, applied once by the worker.
        pool = await deps.pool()
        await send_stored(deps, pool, submitted.earlier)
        server_timing.mark("queue")
        observe_request_merged(spec)
        number = emergency_for(spec)
        earlier = await _earlier_state(deps, submitted.earlier, spec)
        repeat = _repeat(spec, recorded)
        if earlier.nobody_on_it():
            # "还是没人来…": the core decides whether to climb to the whistle (after the
            # first neighbours' wait; life-threatening at once), once per request
            # (core/repeat_reports.py). Sent only after the earlier request's own command.
            # Stored by the statement with the merge (the outbox): should Kafka refuse or
            # the API die before it is marked queued, the unrecorded sweeper sends it.
            await produce(deps, repeat.command())
        await repeat_reports.mark_queued(pool, repeat.request_id, repeat.report_id)
        return Accepted(
            request_id=submitted.earlier,
            merged=True,
            report_id=spec.request_id,  # its own: cancelled by it, only it is withdrawn
            reply_text=merged_reply_text(
                spec,
                advice,
                deps.config.hotlines(spec.community_id),
                earlier.held_until,
                earlier.helpers_assigned,
                earlier.staff_claimed,
                earlier.staff_called,
            ),
            advise_emergency_call=number is not None,
            emergency_number=number,
        )
    # Sent only after the statement, never concurrently with it: the statement decides
    # whether there is a new request to send at all (a merge, a replay, a refused key send
    # nothing), and a command in Kafka cannot be taken back (README, "The API's edge
    # statement").
    # The intake row (committed above) is the outbox: should Kafka refuse or the API die
    # here, the caller gets no 202, and the unrecorded sweeper re-sends the stored command
    # (a report merged into this request meanwhile is therefore never lost either).
    await produce(deps, recorded.command, recorded.command_json)
    server_timing.mark("queue")
    observe_request_submitted(spec)
    return recorded.fresh


def _quiet_until(deps: ApiDeps, spec: RequestSpec, command: Command) -> str | None:
    """When the worker will send out a request it holds for quiet hours (local HH:MM), by
    the same rule and the same time (the command's) as the core: the group hears it now."""
    community = deps.config.community(spec.community_id)
    if community is None or community.quiet_hours is None:
        return None
    policy = policy_for(community, PLAN_SETS)
    until = policy.quiet_until(spec, command.issued_at)
    return None if until is None else policy.local_time(until)


@dataclass(frozen=True)
class _Earlier:
    """What the reporter of a merged report is told of the earlier request."""

    held_until: str | None  # held for quiet hours until then (local HH:MM)
    helpers_assigned: int  # neighbours who accepted it
    staff_claimed: bool
    # The whistle recorded as blown (staff on duty offered, the whistle list called) and
    # not recorded as reaching nobody: true as the reply is made, not a hope.
    staff_called: bool = False

    def nobody_on_it(self) -> bool:
        """Worth a `ReportRepeated`: not held, nobody accepted, no staff claim, no whistle
        yet. The core decides again from its own state (the read model may lag)."""
        return (
            self.held_until is None
            and self.helpers_assigned == 0
            and not self.staff_claimed
            and not self.staff_called
        )


def _repeat(spec: RequestSpec, recorded: _Recorded) -> repeat_reports.RepeatReport:
    """The merged report's `ReportRepeated` as the statement stored it: its id from the
    report's own (message-derived) id, so a bot's retry of the message is the same command,
    and its time the stored one (a retry's first copy's; that of this call's command, which
    the statement was given, if it returned none)."""
    submitted = recorded.submitted
    assert submitted.earlier is not None
    return repeat_reports.RepeatReport(
        request_id=submitted.earlier,
        report_id=spec.request_id,
        community_id=spec.community_id,
        issued_at=submitted.repeat_at or recorded.command.issued_at,
    )


async def _earlier_state(deps: ApiDeps, request_id: str, spec: RequestSpec) -> _Earlier:
    """The request a report was merged into, as recorded: one read of its row (only for a
    merged report, off a new request's path). Not recorded yet (its command still in the
    outbox): nobody accepted it, and whether it is held is the core's rule at that
    command's time, as its own first reply was made (`_quiet_until`; the merge key makes
    `spec` its kind and urgency). Recorded: the read model's `held_until` (cleared on
    release), `helpers_assigned` and `claimed_by`. A community without quiet hours holds
    nothing."""
    pool = await deps.pool()
    row = await read_requests.status(pool, request_id)
    community = deps.config.community(spec.community_id)
    held = None
    if community is not None and community.quiet_hours is not None:
        policy = policy_for(community, PLAN_SETS)
        until = row["held_until"] if row is not None else None
        outbox = await intake.outbox(pool, request_id) if row is None else None
        if outbox is not None and outbox.command is not None:
            issued = Command.model_validate_json(outbox.command).issued_at
            until = policy.quiet_until(spec, issued)
        if until is not None and until > deps.clock():
            held = policy.local_time(until)
    if row is None:
        return _Earlier(held, 0, False)
    called = False
    if row.get("whistled_at") is not None and row.get("staff_unreached") is None:
        called = await read_requests.staff_offered(pool, request_id, row["whistled_at"])
    return _Earlier(held, int(row["helpers_assigned"]), row.get("claimed_by") is not None, called)


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
    render: Render = _as_is,
    merge: bool = True,
    webhook: DeferredClaim | None = None,
    charge: Callable[[], None] | None = None,
) -> Response:
    """202 with `render(accepted)`; a retry with the same key gets the very same answer.
    `merge=False` (staff): a request made on purpose is never folded into another.
    `webhook`: the signed bot's webhook-id, claimed first in the same statement (its route
    has written and sent nothing before). PostgreSQL or Kafka out of reach: 503, with the
    call-now reply for a life-threatening request (`outage_answers`). `charge`: called once
    the statement took the request in (a new one, or a report merged into an earlier one),
    never for a replay (409) nor for a retry answered with its key's stored answer: a
    life-threatening request's emergency allowance (`requests.charge_caller`)."""
    with outage_answers(spec.is_life_threatening(), advice, spec.emergency()):
        return await _submit_once(
            request, spec, bot_id, idempotency_key, payload, advice, render, merge, webhook, charge
        )


async def _submit_once(
    request: Request,
    spec: RequestSpec,
    bot_id: str | None,
    idempotency_key: str | None,
    payload: Any,
    advice: str | None,
    render: Render,
    merge: bool,
    webhook: DeferredClaim | None,
    charge: Callable[[], None] | None,
) -> Response:
    deps: ApiDeps = request.app.state.deps
    charge = charge or _nothing
    claim = None
    if idempotency_key is not None and bot_id is not None:
        claim = _Claim(bot_id, idempotency_key, idempotency.fingerprint(payload))
    recorded = await _record(deps, spec, bot_id, merge, claim, webhook, advice, render)
    if claim is None:
        charge()
        _, content = recorded.answer(await _queue(deps, spec, advice, recorded), render)
        if webhook is not None:
            webhook.answered = True
        return _accepted(content)
    pool = await deps.pool()
    if not recorded.submitted.claimed:
        # A known key (rare): replay its answer, refuse (422/409), or take over a stale one.
        stored = await idempotency.begin(pool, claim.bot_id, claim.key, claim.fingerprint)
        if isinstance(stored, idempotency.PendingAnswer):
            stored = await _send_again(deps, pool, claim, stored)
        if stored is not None:
            return JSONResponse(
                stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
            )
    try:
        if not recorded.submitted.claimed:
            recorded = await _record(deps, spec, bot_id, merge, None, None, advice, render)
        charge()  # taken in (a stale key taken over included), not a stored answer repeated
        body, content = recorded.answer(await _queue(deps, spec, advice, recorded), render)
    except BaseException:
        await idempotency.abandon(pool, claim.bot_id, claim.key)
        raise
    if webhook is not None:
        webhook.answered = True  # the 202 is decided: its id stays claimed whatever follows
    if recorded.answer_stored:
        # The answer went in with the intake statement, in flight; Kafka has acknowledged,
        # so it is final. Marked `done` after the 202 (off its path): a retry meeting it
        # still in flight sends the stored command again and waits for Kafka's ack before it
        # gets the same answer (`_send_again`), so no retry is told 202 for a command Kafka
        # might not have, and none gets a different answer, even if this process dies now.
        deps.done_marks.add(claim.bot_id, claim.key)  # batched, after the 202
        return _accepted(content)
    await idempotency.finish(pool, claim.bot_id, claim.key, 202, body)
    return _accepted(content)


def _nothing() -> None: ...


def _accepted(content: bytes) -> Response:
    return Response(content, status_code=202, media_type="application/json")


async def _send_again(
    deps: ApiDeps, pool: asyncpg.Pool, claim: _Claim, pending: idempotency.PendingAnswer
) -> idempotency.StoredAnswer:
    """A retry that met an answer stored in flight: its owner may not have had Kafka's ack
    (still sending, refused, or died). Send the intake row's command again (the same
    command: the worker applies it once) and answer only once Kafka acknowledged it."""
    if not await send_stored(deps, pool, pending.request_id):
        raise idempotency.in_flight()  # no intake row: nothing to send again; the owner decides
    await bot_calls.mark_done(pool, claim.bot_id, claim.key)
    return pending.answer


async def send_stored(deps: ApiDeps, pool: asyncpg.Pool, request_id: str) -> bool:
    """Send an acknowledged request's stored command (its intake row's outbox copy) again
    and wait for Kafka's ack. False: no intake row for it."""
    outbox = await intake.outbox(pool, request_id)
    if outbox is None:
        return False
    if outbox.command is not None:  # None: the worker recorded it, so Kafka had it
        await send_json(deps, outbox.community_id, outbox.command)
    return True
