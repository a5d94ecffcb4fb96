"""Staff side of self-registration (握手行动): make an invite link, list the sign-ups that
came through it, approve or reject them. Every route names its community and is scoped to
it (`ensure_staff_scope`), and a sign-up is found only within the community in its path,
so staff of one community can neither see nor decide another's.

A decision claims the sign-up atomically (two staff pressing at once: one wins, the other
gets 409). Approval is the one write path: `UpsertHelper` then `WelcomeHelper` on the
commands topic (same key, so in that order); the worker adds the helper and the notify agent
pushes the welcome to their private channel. The sign-up's personal data is cleared once
decided: the profile (with the phone) and its digest always, and a rejected sign-up's name,
building and channel too (the person was never on the roster; staff's list of rejected
sign-ups shows them with an empty `display_name` and `building_name`). A sign-up staff
never decide lapses `DISPATCH_SIGNUP_PENDING_DAYS` (default 30) after it was made: the
purge (dispatcher/record/retention.py) forgets it as a rejection does, and staff list it
under `?status=lapsed`; deciding it then answers 409. The person may sign up again.

The decision is one transaction committed only after Kafka acknowledged the commands: if
Kafka refuses (503) or the API dies before, the sign-up is pending again, and staff may
press again. Unlike the links' claims (an outbox row, offer_pages.py), nothing waits to be
re-sent here: the sign-up's profile, with the phone, is not kept for a sweeper, and staff
decisions are rare enough that holding a connection through the Kafka wait costs nothing.
The concurrent second decision waits on the row's lock, then finds it decided (409).

One phone is one helper: an approval is refused (409) when the sign-up's person is on the
roster already, by its keyed id or by its phone's digest under another id (a ledger row's
编号: two ids would take two offers and fill two slots). The approved helper's digest is
kept (`helper_phone_keys`) like the ledger's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, field_validator

from dispatcher.api.auth import ensure_staff_scope, require_staff
from dispatcher.api.command_queue import send_command
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.invites import invite_token, invite_url
from dispatcher.api.models import Body, place_name_only
from dispatcher.api.staff_accounts import StaffAccount
from dispatcher.record.edge import phone_keys, registrations
from dispatcher.sealing import keyring, seal_profile
from schemas.commands import UpsertHelper
from schemas.helper_messages import WelcomeHelper

router = APIRouter(prefix="/v1/staff", tags=["self-registration"])
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]
MAX_VALID = timedelta(days=30)
Staff = Annotated[StaffAccount, Depends(require_staff)]


class InviteIn(Body):
    compound_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:@-]{1,64}$")
    compound_name: str | None = Field(default=None, max_length=64)
    grid_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:@-]{1,64}$")
    valid_hours: float = Field(default=72, gt=0, le=MAX_VALID.total_seconds() / 3600)

    @field_validator("compound_name", mode="after")
    @classmethod
    def _a_name_only(cls, value: str | None) -> str | None:
        # Every sign-up through the link carries it, and so every offer and group text of
        # their requests: a 422 naming the field, as PlaceIn's.
        return place_name_only(
            value,
            phone="a compound's name only (e.g. 图强小区): no phone in an invite",
            flat="a compound's name only (e.g. 图强小区), shown to every helper: residents "
            "give their own building on the join form",
        )


class InviteOut(BaseModel):
    url: str
    expires_at: datetime


class Decision(BaseModel):
    registration_id: str
    status: Literal["approved", "rejected"]
    helper_id: str


def _deps(request: Request) -> ApiDeps:
    deps: ApiDeps = request.app.state.deps
    return deps


@router.post("/communities/{community_id}/invites", status_code=201)
async def create_invite(
    community_id: Id,
    body: InviteIn,
    request: Request,
    staff: Staff,
) -> InviteOut:
    """A signed, expiring link residents open to sign up for this community (compound)."""
    ensure_staff_scope(request, community_id)
    deps = _deps(request)
    expires_at = deps.clock() + timedelta(hours=body.valid_hours)
    token = invite_token(
        deps.settings,
        community_id=community_id,
        expires_at=expires_at,
        compound_id=body.compound_id,
        compound_name=body.compound_name,
        grid_id=body.grid_id,
    )
    return InviteOut(url=invite_url(deps.settings, token), expires_at=expires_at)


@router.get("/communities/{community_id}/registrations")
async def list_registrations(
    community_id: Id,
    request: Request,
    staff: Staff,
    status: Literal["pending", "approved", "rejected", "lapsed"] = Query("pending"),
) -> list[dict[str, Any]]:
    """Sign-ups of this community (no phone numbers; a rejected or lapsed one's name and
    building are cleared, '')."""
    ensure_staff_scope(request, community_id)
    return await registrations.listed(await _deps(request).pool(), community_id, status)


async def _decide(
    request: Request, community_id: str, registration_id: str, staff: StaffAccount, approve: bool
) -> Decision:
    ensure_staff_scope(request, community_id)
    deps = _deps(request)
    pool = await deps.pool()
    known = await registrations.whose(pool, registration_id)
    if known is None or known[0] != community_id:  # another community's: as if absent
        raise fail(404, "unknown_registration", "no such sign-up in this community")
    if approve and await registrations.in_roster(pool, known[1]):
        # An approval would replace the ledger's profile (roles, pairings…) with the form's.
        raise fail(409, "already_in_roster", "already a helper here: reject, or send a welcome")
    status: Literal["approved", "rejected"] = "approved" if approve else "rejected"
    async with pool.acquire() as conn, conn.transaction():  # any failure: still pending
        found = await registrations.claim(conn, registration_id, status, staff.name, deps.clock())
        if found is None:
            raise fail(409, "already_decided", "this sign-up was decided already")
        if approve:
            key = await _phone_not_on_roster(conn, deps, found)
            # Before Kafka: a failure here leaves nothing sent; one after rolls it back.
            await phone_keys.remember(conn, community_id, [(found.helper_id, key)], deps.clock())
            await _welcome(deps, found, community_id)
        await registrations.forget(conn, registration_id)
    return Decision(registration_id=registration_id, status=status, helper_id=found.helper_id)


async def _phone_not_on_roster(
    conn: asyncpg.Connection, deps: ApiDeps, found: registrations.Pending
) -> str | None:
    """The sign-up's phone digest; 409 (the claim rolled back) when a helper of the
    community has this phone, under another id or this one: every sign-up is kept, so two
    for one phone (one typed by someone else) share the keyed id, and the first approval's
    digest is the only record of it the second sees at once (the helpers table waits for
    the worker). Approvals of one phone take turns, so the second sees the first's."""
    key = keyring(deps.settings).phone_key(found.profile.phone)
    if key is None:
        return None
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{found.community_id}/{key}"
    )
    others = await phone_keys.holders(conn, found.community_id, key)
    if others:
        raise fail(
            409,
            "already_in_roster",
            f"this phone is helper {others[0]}'s already: reject this sign-up, or send them"
            " a welcome",
        )
    return key


async def _welcome(deps: ApiDeps, found: registrations.Pending, community_id: str) -> None:
    """Same key, so in this order: into the roster, then the welcome."""
    profile = seal_profile(keyring(deps.settings), found.profile)  # never plain in Kafka
    await send_command(deps, UpsertHelper(profile=profile), community_id)
    await send_command(deps, WelcomeHelper(helper_id=found.helper_id), community_id)


@router.post("/communities/{community_id}/registrations/{registration_id}/approve")
async def approve(
    community_id: Id,
    registration_id: Id,
    request: Request,
    staff: Staff,
) -> Decision:
    """Add the resident to the roster (through Kafka) and send them the welcome."""
    return await _decide(request, community_id, registration_id, staff, approve=True)


@router.post("/communities/{community_id}/registrations/{registration_id}/reject")
async def reject(
    community_id: Id,
    registration_id: Id,
    request: Request,
    staff: Staff,
) -> Decision:
    return await _decide(request, community_id, registration_id, staff, approve=False)
