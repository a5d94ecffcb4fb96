"""Roster administration (staff only): helpers are created, updated and deactivated by
command, one at a time or from a community's ledger file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time
from typing import Annotated

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from dispatcher.api.auth import (
    DB_RETRY_AFTER_S,
    DB_UNAVAILABLE,
    ensure_staff_scope,
    require_staff,
)
from dispatcher.api.command_queue import send_command
from dispatcher.api.deps import ApiDeps
from dispatcher.api.errors import fail
from dispatcher.api.models import Body, CommandAccepted, PlaceIn
from dispatcher.api.platform_login import accounts as platform_accounts
from dispatcher.api.roster_import import import_roster
from dispatcher.groupchat.texts import unshowable
from dispatcher.record.edge import phone_keys
from dispatcher.record.edge.roster_members import RosterMembers
from dispatcher.record.read.helpers import helpers_elsewhere
from dispatcher.roster.ledger import RosterFileError, RosterPlace
from dispatcher.roster.report import RosterReport
from dispatcher.roster.sandbox import parse_isolated_async
from dispatcher.sealing import keyring, seal_profile
from schemas.commands import DeactivateHelper, UpsertHelper
from schemas.helpers import HelperProfile, TimeWindow, WeeklyWindow
from schemas.places import PlacePath
from schemas.vocab import Gender, Role, Skill

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_staff)])

Id = Annotated[str, Path(min_length=1, max_length=64)]


TeamName = Annotated[str, Field(min_length=1, max_length=32)]


class WindowIn(Body):
    start: time
    end: time


class WeeklyIn(Body):
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: list(range(7)), min_length=1, max_length=7
    )
    start: time
    end: time


class HelperIn(Body):
    helper_id: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=64)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 -]{5,20}$")
    place: PlaceIn
    roles: list[Role] = Field(default_factory=lambda: [Role.VOLUNTEER], max_length=10)
    skills: list[Skill] = Field(default_factory=list, max_length=20)
    party_member: bool = False
    availability: list[WeeklyIn] = Field(default_factory=list, max_length=14)
    do_not_disturb: WindowIn | None = None
    gender: Gender | None = None
    paired_household_ids: list[str] = Field(default_factory=list, max_length=50)
    channels: list[str] = Field(default_factory=list, max_length=10)
    languages: list[str] = Field(default_factory=list, max_length=10)
    name_in_group: bool = Field(
        default=False, description="Opt-in: the asking group sees the name on accepting"
    )
    active: bool = True
    platform_user_id: str | None = Field(
        default=None,
        max_length=128,
        description="The helper's chat-platform user id (WeCom userid, DingTalk userId, "
        "Feishu open_id): @-mentions, and the platform login for offer links",
    )
    party_branch: str | None = Field(default=None, max_length=64, description="支部")
    party_group: str | None = Field(default=None, max_length=64, description="楼道党小组")
    teams: list[TeamName] = Field(default_factory=list, max_length=10, description="团队")
    leads_teams: list[TeamName] = Field(
        default_factory=list, max_length=10, description="teams led: offered for the team"
    )

    @field_validator("name", "teams", "leads_teams", mode="after")
    @classmethod
    def _one_line(cls, value: str | list[str]) -> str | list[str]:
        # Shown in the asking group when opted in ("一位邻居（王师傅）已接单"): a newline
        # would forge a second line from the bot, a bidi override turn the line around.
        for text in [value] if isinstance(value, str) else value:
            if found := unshowable(text):
                raise PydanticCustomError(
                    "control_character",
                    "one line of plain text: no control or format character (newline, tab, "
                    "bidi override, zero-width; found {found})",
                    {"found": found},
                )
        return value

    def to_profile(self) -> HelperProfile:
        return HelperProfile(
            helper_id=self.helper_id,
            name=self.name,
            phone=self.phone,
            place=PlacePath(**self.place.model_dump()),
            roles=tuple(self.roles),
            skills=tuple(dict.fromkeys(self.skills)),
            party_member=self.party_member,
            availability=tuple(
                WeeklyWindow(
                    weekdays=tuple(w.weekdays), window=TimeWindow(start=w.start, end=w.end)
                )
                for w in self.availability
            ),
            do_not_disturb=(
                TimeWindow(start=self.do_not_disturb.start, end=self.do_not_disturb.end)
                if self.do_not_disturb
                else None
            ),
            gender=self.gender,
            paired_household_ids=tuple(self.paired_household_ids),
            channels=tuple(self.channels),
            languages=tuple(self.languages),
            name_in_group=self.name_in_group,
            active=self.active,
            platform_user_id=self.platform_user_id,
            party_branch=self.party_branch,
            party_group=self.party_group,
            teams=tuple(self.teams),
            leads_teams=tuple(self.leads_teams),
        )


@router.put("/helpers/{helper_id}", status_code=status.HTTP_202_ACCEPTED)
async def upsert_helper(helper_id: Id, body: HelperIn, request: Request) -> CommandAccepted:
    """Create or update a helper (volunteer, party member, staff)."""
    if body.helper_id != helper_id:
        raise fail(422, "id_mismatch", "helper_id in the path and body differ")
    try:
        profile = body.to_profile()
    except ValueError as exc:
        raise fail(422, "invalid_helper", str(exc)) from exc
    ensure_staff_scope(request, profile.community_id)
    deps: ApiDeps = request.app.state.deps
    # Ids are not per community: naming another community's helper here would take them
    # over (or, on another partition, overwrite their recorded `active`).
    if await helpers_elsewhere(await deps.pool(), profile.community_id, [helper_id]):
        raise fail(409, "helper_of_another_community", "this helper id is another community's")
    # Before the command: an account whose helper the worker has not applied is never used.
    await platform_accounts.remember(
        await deps.pool(), deps.settings, profile.community_id, [profile], deps.clock()
    )
    ring = keyring(deps.settings)
    if profile.active:  # and the phone's digest a sign-up's approval compares
        keys = [(helper_id, ring.phone_key(profile.phone))]
        await phone_keys.remember(await deps.pool(), profile.community_id, keys, deps.clock())
    profile = seal_profile(ring, profile)  # the phone never travels plain
    command_id = await send_command(deps, UpsertHelper(profile=profile), profile.community_id)
    if not profile.active:  # saved inactive: a deactivation
        await _forget_off_roster(deps, profile.community_id, helper_id)
    return CommandAccepted(command_id=command_id)


@router.delete("/communities/{community_id}/helpers/{helper_id}", status_code=202)
async def deactivate_helper(community_id: Id, helper_id: Id, request: Request) -> CommandAccepted:
    """Deactivate a helper: no more offers; history is kept."""
    ensure_staff_scope(request, community_id)
    deps: ApiDeps = request.app.state.deps
    command_id = await send_command(deps, DeactivateHelper(helper_id=helper_id), community_id)
    await _forget_off_roster(deps, community_id, helper_id)
    return CommandAccepted(command_id=command_id)


async def _forget_off_roster(deps: ApiDeps, community_id: str, helper_id: str) -> None:
    """What the API keeps that names or reaches the helper (their `roster_members` name,
    their platform account), forgotten as a ledger's retirement forgets it. After the
    command: a refused one leaves the helper as they were, and a failure here leaves them
    deactivated with nothing usable (the login matches active helpers only)."""
    try:
        await RosterMembers(await deps.pool()).retire(community_id, [helper_id], deps.clock())
    except DB_UNAVAILABLE as exc:
        raise fail(
            503,
            "record_unavailable",
            "the deactivation is queued but the helper's roster name and platform account "
            f"are not erased yet ({type(exc).__name__}): repeat the request (it is safe)",
            {"Retry-After": DB_RETRY_AFTER_S},
        ) from exc


# Kafka or PostgreSQL out of reach (TimeoutError is an OSError): an import may have queued
# part of the file, and running all of it again is safe.
UNREACHABLE = (KafkaError, OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


@contextmanager
def import_failures(what: str) -> Iterator[None]:
    """A ledger import's failure as its answer: 503 (retry) only when Kafka or PostgreSQL
    could not be reached; a value one of them refused is the file's (422: retrying would
    fail again). Rows are checked before anything is sent, so that one means a check missed."""
    try:
        yield
    except UNREACHABLE as exc:
        raise fail(
            503,
            "queue_unavailable",
            f"could not queue every {what} ({type(exc).__name__}); re-running the import "
            "is safe (it is an upsert)",
            {"Retry-After": "2"},
        ) from exc
    except (ValueError, asyncpg.DataError) as exc:
        raise fail(
            422,
            "invalid_ledger",
            f"a value of the ledger could not be stored ({type(exc).__name__}); the import "
            "stopped: correct the file and import it again",
        ) from exc


LEDGER_TYPES = {
    "text/csv": {"schema": {"type": "string", "format": "binary"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}
    },
}


@router.post(
    "/communities/{community_id}/roster",
    response_model=RosterReport,
    responses={422: {"model": RosterReport, "description": "Rows rejected: nothing imported"}},
    openapi_extra={"requestBody": {"required": True, "content": LEDGER_TYPES}},
)
async def import_ledger(
    community_id: Id,
    request: Request,
    compound_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    compound_name: Annotated[str | None, Query(max_length=64)] = None,
    grid_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    partial: bool = False,
    dry_run: bool = False,
    retire: bool = True,
) -> JSONResponse:
    """Import a ledger (CSV in UTF-8 or GBK, or XLSX; first sheet; header row first):
    姓名, 电话, 楼栋 (any name: 3号楼, A座, 3幢, 综合楼) required; 小区 (many compounds in
    one file; or `compound_id` for the whole file), 小区编号, 网格, 单元, 户号 (502,
    3-2-502), 结对 (paired households), 技能 (开车/医生/护士/水电/搬运 …), 党员 (是/否),
    可服务时间 (工作日晚上, 周一至周五 18:00-22:00 …), 身份, 性别, 平台账号, 渠道, 编号
    optional.

    Every row is checked first. A row is rejected when 姓名, 电话, 楼栋 or 小区 is wrong,
    or a cell holds a formula or a character that cannot be stored (NUL); other unreadable
    cells are reported per cell (`cells`) and left out. With any rejected row nothing is
    imported (422 with the report) unless `partial=true`. `dry_run=true` only checks.
    Helpers an earlier ledger listed in the same compounds and this one does not are
    retired (`retired`), unless a row was rejected or `retire=false`."""
    ensure_staff_scope(request, community_id)
    data = await request.body()
    where = RosterPlace(community_id, compound_id, compound_name, grid_id)
    try:
        parsed = await parse_isolated_async(data, where)  # a child process with limits
    except RosterFileError as exc:
        raise fail(422, "unreadable_ledger", str(exc)) from exc
    deps: ApiDeps = request.app.state.deps
    with import_failures("helper"):
        report = await import_roster(
            deps.settings,
            deps.sink,
            parsed,
            community_id=community_id,
            partial=partial,
            now=deps.clock(),
            dry_run=dry_run,
            members=RosterMembers(await deps.pool()) if retire else None,
            db=await deps.pool(),
        )
    failed = bool(report.rejected) and not report.committed and not dry_run
    return JSONResponse(report.model_dump(mode="json"), status_code=422 if failed else 200)
