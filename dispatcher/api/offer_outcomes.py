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


def use_for(action: str, request_id: str, offer_id: str, helper_id: str) -> LinkUse:
    """One use per (action, offer), whichever page it came from."""
    use_key = f"{action}:{offer_id}"
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
    """The press's command under an id of this ask's own once the offer was sent again (a
    reopened slot re-asks a helper stood down, under the same offer id): an answer to the
    earlier ask may have been refused (`covered`), and under its id the read model would
    still say so (`read_outcome`) and the answer would stay the link's one use. Derived
    from the press's own id (a team leader's try, offer_pages._attempt) and the send's
    number: two presses of one try on one ask still make one command."""
    sends = await link_uses.sends(pool, use.request_id, use.offer_id)
    if sends <= 1:
        return use
    command_id = command_id_for(f"{use.command_id}@{sends}")
    command = use.command
    if command:  # '' sends nothing (a member confirming what their leader signed up)
        sent = Command.model_validate_json(command)
        command = sent.model_copy(update={"command_id": command_id}).model_dump_json()
    return replace(use, command_id=command_id, command=command)


async def claim(pool: asyncpg.Pool, use: LinkUse) -> tuple[bool, LinkUse]:
    """(True, use) for the first POST of this link, or the first since the offer was sent
    again after the core refused the link's answer (`link_uses.asked_again`); (False, the
    recorded use) otherwise."""
    use = await for_this_ask(pool, use)
    while not await link_uses.claim(pool, use):
        recorded = await link_uses.recorded(pool, use.use_key)
        if recorded is None:  # released meanwhile: claim again
            continue
        if recorded.command_id == use.command_id or not await link_uses.asked_again(pool, recorded):
            return False, recorded
        await link_uses.forget_asked_again(pool, use.use_key, recorded.command_id)
    return True, use


async def release(pool: asyncpg.Pool, use_key: str) -> None:
    """The command could not be queued: the link stays usable."""
    await link_uses.release(pool, use_key)


async def recorded_use(pool: asyncpg.Pool, use_key: str) -> LinkUse | None:
    """The link's answer to the offer as now sent: None before any, and None when the core
    refused the answer and the offer was sent again since (the helper is asked anew, the
    link invites again)."""
    recorded = await link_uses.recorded(pool, use_key)
    if recorded is None or await link_uses.asked_again(pool, recorded):
        return None
    return recorded


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
