"""Configuration as data, through the staff API (issue 14.1): communities, bots, push
endpoints, whistle recipients. Each change is a record on the `config` topic (dispatcher/
config); the answer comes once this API's live view shows it (200), or 202 if it has not
within 10 s. Secrets are never answered back, except a new one this call created (once).

Scope: a staff account changes only what belongs to its communities: a bot whose every
community (before and after) is theirs, an endpoint their community owns; district-wide
endpoints (no owner) and `GET /v1/admin/config` of everything need a district-wide account.
So do the names that route another community's or everyone's messages: `community-<id>…`
of a community not the owner, and the default endpoint of helpers without channels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from dispatcher.api import config_live
from dispatcher.api.auth import require_staff
from dispatcher.api.deps import CONFIG_RETRY_AFTER_S, ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.staff_accounts import StaffAccount
from dispatcher.config.changes import Changes, ConfigError
from dispatcher.config.outbound import internal_host, outbound_urls
from dispatcher.config.secrets import shown
from dispatcher.push.recipients import PREFIX, addresses
from dispatcher.record.read import config_history
from schemas.config import ConfigKind

router = APIRouter(prefix="/v1/admin/config", tags=["configuration"])

Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,64}$")]
Staff = Annotated[StaffAccount, Depends(require_staff)]
Doc = Annotated[dict[str, Any], Body(description="the entity as JSON (see dispatcher/config)")]

_PLURAL = {
    ConfigKind.COMMUNITY: "communities",
    ConfigKind.BOT: "bots",
    ConfigKind.ENDPOINT: "endpoints",
}
_CODES = {
    "not_found": 404,
    "previous_secret_left": 409,
    "wrong_community": 403,
    "endpoint_in_use": 409,  # a community's whistle contact reaches through it
}


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str | None = Field(
        default=None, max_length=512, description="the new secret; omitted: 32 random bytes"
    )


def _deps(request: Request) -> ApiDeps:
    deps: ApiDeps = request.app.state.deps
    if not deps.config.loaded:
        raise fail(
            503,
            "config_loading",
            "configuration not loaded yet; retry shortly",
            {"Retry-After": CONFIG_RETRY_AFTER_S},
        )
    return deps


def _changes(deps: ApiDeps, staff: StaffAccount) -> Changes:
    return Changes(
        view=deps.config, actor=staff.name, now=deps.clock(), production=deps.settings.mode != "dev"
    )


def _owners(kind: ConfigKind, state: dict[str, Any]) -> set[str]:
    # An endpoint or bot of no community is district-wide: "*" (district staff only).
    return set(Changes.communities_of(kind, state)) or {"*"}


def _check_name(deps: ApiDeps, staff: StaffAccount, name: str, owner: str | None) -> None:
    """Delivery picks endpoints by name: a community's staff may not take a name that the
    whistle of another community, or every community's helpers, would be sent to."""
    if staff.district_wide:
        return
    shared = {"default", deps.settings.push_default_endpoint}
    if name in shared:
        raise fail(403, "reserved_endpoint", f"endpoint/{name} is district-wide: district staff")
    if name.startswith(PREFIX) and (owner is None or not addresses(name, owner)):
        raise fail(
            403,
            "wrong_community",
            f"endpoint/{name}: a {PREFIX}<id> name is for that community's own endpoints",
        )


def _check_addresses(staff: StaffAccount, kind: ConfigKind, entity_id: str, state: Any) -> None:
    """A community's staff may not point the service at an address inside the deployment
    (`config/outbound.py`): district staff run it, and may name a relay on the LAN."""
    if staff.district_wide:
        return
    for url in outbound_urls(kind, state):
        if internal_host(url):
            raise fail(
                403,
                "internal_address",
                f"{kind.value}/{entity_id}: only district staff may name a non-public address",
            )


def _check_scope(deps: ApiDeps, staff: StaffAccount, changes: Changes) -> None:
    """Every community the entity belongs to, before and after the change, is the staff's."""
    for kind, entity_id, state in changes.outcome.touched:
        if kind is ConfigKind.ENDPOINT and state is not None:
            _check_name(deps, staff, entity_id, state.get("community_id"))
        if state is not None:
            _check_addresses(staff, kind, entity_id, state)
        needed = set() if state is None else _owners(kind, state)
        current = deps.config.raw_state(kind, entity_id)
        if current is not None:
            needed |= _owners(kind, current)
        if not all(staff.district_wide if c == "*" else staff.may_act_in(c) for c in needed):
            raise fail(
                403,
                "wrong_community",
                f"{kind.value}/{entity_id} is not within this account's communities",
            )


async def _commit(deps: ApiDeps, staff: StaffAccount, changes: Changes) -> JSONResponse:
    _check_scope(deps, staff, changes)
    if deps.config_writer is None:
        raise fail(409, "config_fixed", "this API runs without Kafka: its configuration is fixed")
    visible = await config_live.write(deps, changes.outcome.records)
    return JSONResponse(changes.outcome.summary(), status_code=200 if visible else 202)


def _run(
    edit: Any, scope: Callable[[], None] | None = None, staff: StaffAccount | None = None
) -> None:
    try:
        edit()
    except ConfigError as exc:
        if exc.code == "endpoint_in_use" and scope is not None:
            # Its reason names another community's contact: only for an account that may
            # change the endpoint at all (else the 403 it always had).
            scope()
        reason = str(exc)
        if exc.community is not None and (staff is None or not staff.may_act_in(exc.community)):
            # May change the endpoint (e.g. its owner is a string such as "siming.duty" that
            # is also a community id) but not act in the contact's community: refused, naming
            # no one.
            reason = exc.unnamed
        raise fail(_CODES.get(exc.code, 422), exc.code, reason) from None
    except (TypeError, ValueError, AttributeError) as exc:  # a body of the wrong shape
        raise fail(422, "invalid", f"not a configuration document ({type(exc).__name__})") from None


def _shown_entity(deps: ApiDeps, kind: ConfigKind, entity_id: str) -> dict[str, Any] | None:
    state = deps.config.raw_state(kind, entity_id)
    return None if state is None else shown(state)


def _community_doc(deps: ApiDeps, community_id: str) -> dict[str, Any]:
    view = deps.config
    community = _shown_entity(deps, ConfigKind.COMMUNITY, community_id)
    bots = [
        shown(s)
        for b in view.ids(ConfigKind.BOT)
        if (s := view.raw_state(ConfigKind.BOT, b)) and community_id in s.get("communities", ())
    ]
    endpoints = [
        shown(s)
        for e in view.ids(ConfigKind.ENDPOINT)
        if (s := view.raw_state(ConfigKind.ENDPOINT, e)) and s.get("community_id") == community_id
    ]
    return {"community": community, "bots": bots, "push_endpoints": endpoints}


@router.get("", summary="Everything configured (district-wide staff)")
async def show_all(request: Request, staff: Staff) -> dict[str, Any]:
    deps = _deps(request)
    if not staff.district_wide:
        raise fail(403, "district_wide_only", "ask for your community: /communities/{id}")
    return {
        _PLURAL[kind]: [
            shown(s) for i in deps.config.ids(kind) if (s := deps.config.raw_state(kind, i))
        ]
        for kind in ConfigKind
    }


@router.get("/communities/{community_id}", summary="A community with its bots and endpoints")
async def show_community(community_id: Id, request: Request, staff: Staff) -> dict[str, Any]:
    deps = _deps(request)
    if not staff.may_act_in(community_id):
        raise fail(403, "wrong_community", "this staff account is not for that community")
    return _community_doc(deps, community_id)


@router.put("/communities/{community_id}", summary="Upsert a whole community document")
async def apply_community(
    community_id: Id, doc: Doc, request: Request, staff: Staff
) -> JSONResponse:
    """The community's settings (display_name, hotlines, plan, quiet_hours, grids with
    compounds and buildings, contacts = whistle recipients), plus `bots` and
    `push_endpoints` (owned by the community). Entities left out are kept; a secret left
    out is kept (a new bot or webhook gets one, answered once in `new_secrets`)."""
    deps = _deps(request)
    if not staff.may_act_in(community_id):
        raise fail(403, "wrong_community", "this staff account is not for that community")
    changes = _changes(deps, staff)
    _run(
        lambda: changes.document(community_id, doc),
        lambda: _check_scope(deps, staff, changes),
        staff,
    )
    return await _commit(deps, staff, changes)


@router.put("/bots/{bot_id}", summary="Create or replace a bot")
async def put_bot(bot_id: Id, doc: Doc, request: Request, staff: Staff) -> JSONResponse:
    deps = _deps(request)
    if doc.setdefault("bot_id", bot_id) != bot_id:
        raise fail(422, "id_mismatch", "bot_id in the path and body differ")
    changes = _changes(deps, staff)
    _run(lambda: changes.bot(doc))
    return await _commit(deps, staff, changes)


@router.post("/bots/{bot_id}/rotate", summary="New secret; the old one verifies until removed")
async def rotate_bot(bot_id: Id, body: RotateIn, request: Request, staff: Staff) -> JSONResponse:
    deps = _deps(request)
    changes = _changes(deps, staff)
    _run(lambda: changes.rotate_bot(bot_id, body.secret))
    return await _commit(deps, staff, changes)


@router.delete("/bots/{bot_id}/previous-secrets", summary="Stop accepting the old secret")
async def drop_previous(bot_id: Id, request: Request, staff: Staff) -> JSONResponse:
    deps = _deps(request)
    changes = _changes(deps, staff)
    _run(lambda: changes.drop_previous_secrets(bot_id))
    return await _commit(deps, staff, changes)


@router.put("/endpoints/{name}", summary="Create or replace a push endpoint")
async def put_endpoint(name: Id, doc: Doc, request: Request, staff: Staff) -> JSONResponse:
    """`community_id`: the owning community (none: district-wide, district staff only)."""
    deps = _deps(request)
    if doc.setdefault("name", name) != name:
        raise fail(422, "id_mismatch", "name in the path and body differ")
    owner = doc.pop("community_id", None)
    changes = _changes(deps, staff)
    _run(lambda: changes.endpoint(doc, owner), lambda: _check_scope(deps, staff, changes), staff)
    return await _commit(deps, staff, changes)


async def _remove(
    kind: ConfigKind, entity_id: str, request: Request, staff: StaffAccount
) -> JSONResponse:
    deps = _deps(request)
    changes = _changes(deps, staff)
    _run(lambda: changes.remove(kind, entity_id), lambda: _check_scope(deps, staff, changes), staff)
    return await _commit(deps, staff, changes)


@router.delete("/communities/{community_id}", summary="Remove a community's settings")
async def remove_community(community_id: Id, request: Request, staff: Staff) -> JSONResponse:
    return await _remove(ConfigKind.COMMUNITY, community_id, request, staff)


@router.delete("/bots/{bot_id}", summary="Remove a bot: it is refused from its next call")
async def remove_bot(bot_id: Id, request: Request, staff: Staff) -> JSONResponse:
    return await _remove(ConfigKind.BOT, bot_id, request, staff)


@router.delete("/endpoints/{name}", summary="Remove a push endpoint")
async def remove_endpoint(name: Id, request: Request, staff: Staff) -> JSONResponse:
    return await _remove(ConfigKind.ENDPOINT, name, request, staff)


@router.get("/history", summary="Who changed what, when (no secrets)")
async def history(
    request: Request,
    staff: Staff,
    # The ids' own pattern: a NUL byte reached PostgreSQL as a 500 (test_api_fuzz).
    community_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.:@-]{1,64}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    deps = _deps(request)
    if community_id is None and not staff.district_wide:
        raise fail(403, "district_wide_only", "name your community: ?community_id=")
    if community_id is not None and not staff.may_act_in(community_id):
        raise fail(403, "wrong_community", "this staff account is not for that community")
    rows = await config_history.changes(await deps.pool(), community_id, limit)
    return {"changes": rows}
