"""What became of an offer action, read from the PostgreSQL read model (never written here
except our own `api_link_uses`). The worker decides; we only look at what it recorded."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Literal, TypeVar

import asyncpg

from dispatcher.links import ASK_MARK, ask_key
from dispatcher.record.edge import link_uses
from dispatcher.record.edge.link_uses import LinkUse as LinkUse  # re-exported for the pages
from dispatcher.record.read import offers
from dispatcher.record.read.offers import rejection_reason
from schemas.commands import Command

Outcome = Literal[
    "assigned", "covered", "declined", "closed", "not_open", "helping_elsewhere", "refused"
]

POLL_TIMEOUT_S = 4.0
POLL_EVERY_S = 0.05
T = TypeVar("T")
_LINK_NS = uuid.UUID("a4c3f0a2-0a53-4d55-8a61-6d1c6b0f5e07")

# The core's CommandRejected reasons → what the volunteer is told.
_REJECTED: dict[str, Outcome] = {
    "covered": "covered",
    "request_closed": "closed",
    "offer_not_open": "not_open",
    "helping_elsewhere": "helping_elsewhere",
}


def command_id_for(use_key: str) -> str:
    """Deterministic: two racing POSTs of one link produce one command id (core dedupes)."""
    return str(uuid.uuid5(_LINK_NS, use_key))


def use_for(action: str, request_id: str, offer_id: str, helper_id: str, again: int = 0) -> LinkUse:
    """One use per (action, offer, ask), whichever page it came from. `again`: the ask the
    link was pushed with (`LinkClaims.again`); 0 on a first ask's link and where no push
    says (`/l/me`, the assignment's page): those answer the offer's latest ask as the event
    log says (`for_this_ask`)."""
    use_key = ask_key(f"{action}:{offer_id}", again)
    return LinkUse(
        use_key=use_key,
        command_id=command_id_for(use_key),
        action=action,
        request_id=request_id,
        offer_id=offer_id,
        helper_id=helper_id,
        outcome=None,
    )


async def for_this_ask(pool: asyncpg.Pool, use: LinkUse) -> LinkUse:
    """The use of the ask it answers: a reopened slot asks a helper stood down as covered
    again under the same offer id, and an answer to an earlier ask may have been refused
    (covered): each ask has its own use key and command id (`links.ask_key`), so that
    refusal is not the new ask's answer. A link pushed with its ask says which
    (`LinkClaims.again`): taken as is, so a press right after the re-ask's push counts even
    before the record agent wrote the re-ask. Else (a first ask's link, `/l/me`) the
    latest ask the event log shows. Before the team leader's try (`offer_pages._attempt`),
    which derives from it: two presses of one try on one ask still make one command."""
    if ASK_MARK in use.use_key:
        return use
    sends = await link_uses.sends(pool, use.request_id, use.offer_id)
    if sends <= 1:
        return use
    use_key = ask_key(use.use_key, sends - 1)
    command_id = command_id_for(use_key)
    command = use.command
    if command:  # '' sends nothing (a member confirming what their leader signed up)
        sent = Command.model_validate_json(command)
        command = sent.model_copy(update={"command_id": command_id}).model_dump_json()
    return replace(use, use_key=use_key, command_id=command_id, command=command)


async def claim(pool: asyncpg.Pool, use: LinkUse) -> tuple[bool, LinkUse]:
    """(True, use) for the first POST of this use (one per ask: `for_this_ask`); (False,
    the recorded use) otherwise."""
    while not await link_uses.claim(pool, use):
        recorded = await link_uses.recorded(pool, use.use_key)
        if recorded is not None:
            return False, recorded
        # released meanwhile: claim again
    return True, use


async def release(pool: asyncpg.Pool, use_key: str) -> None:
    """The command could not be queued: the link stays usable."""
    await link_uses.release(pool, use_key)


async def recorded_use(pool: asyncpg.Pool, use_key: str) -> LinkUse | None:
    """The link's answer to its ask (`for_this_ask`): None before any, so a helper asked
    again invites again whatever they answered an earlier ask."""
    if ASK_MARK not in use_key:  # not the link of an ask: the latest, as the log says
        offer_id = use_key.partition(":")[2]
        sends = await link_uses.sends(pool, None, offer_id)
        use_key = ask_key(use_key, sends - 1) if sends > 1 else use_key
    return await link_uses.recorded(pool, use_key)


async def read_outcome(pool: asyncpg.Pool, use: LinkUse) -> Outcome | None:
    """None while the worker has not recorded anything about this command yet."""
    if use.action == "accept":
        if await offers.is_assigned(pool, use.request_id, use.helper_id, use.offer_id):
            return "assigned"
    elif await offers.offer_status(pool, use.offer_id) == "declined":
        return "declined"
    reason = await offers.rejection_reason(pool, use.command_id)
    if reason is None:
        return None
    return _REJECTED.get(reason, "refused")


async def settle(pool: asyncpg.Pool, use: LinkUse, timeout: float = POLL_TIMEOUT_S) -> str | None:
    """The outcome, polling briefly for the worker; stored once known."""
    if use.outcome is not None:
        return use.outcome
    deadline = time.monotonic() + timeout
    while True:
        outcome = await read_outcome(pool, use)
        if outcome is not None:
            await link_uses.settle(pool, use.use_key, use.command_id, outcome)
            return outcome
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(POLL_EVERY_S)


async def decided(
    pool: asyncpg.Pool,
    command_id: str,
    applied: Callable[[], Awaitable[T | None]],
    timeout: float = POLL_TIMEOUT_S,
) -> tuple[T | None, str | None]:
    """What the core made of a press's command, polling briefly for the worker: (what
    `applied` read once the command took effect, None), (None, the core's rejection reason),
    or (None, None) when neither is recorded within `timeout` (a 202: it will be)."""
    deadline = time.monotonic() + timeout
    while True:
        done = await applied()
        if done is not None:
            return done, None
        reason = await rejection_reason(pool, command_id)
        if reason is not None:
            return None, reason
        if time.monotonic() >= deadline:
            return None, None
        await asyncio.sleep(POLL_EVERY_S)
