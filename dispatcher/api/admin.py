"""Roster administration (staff only): helpers are created, updated and deactivated by command."""

from __future__ import annotations

from datetime import UTC, datetime, time

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import Field

from dispatcher.api.auth import require_staff
from dispatcher.api.models import Body, CommandAccepted, PlaceIn
from schemas.commands import CommandBody, DeactivateHelper, UpsertHelper, new_command
from schemas.helpers import HelperProfile, TimeWindow, WeeklyWindow
from schemas.places import PlacePath
from schemas.vocab import Gender, Role, Skill

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_staff)])


class WindowIn(Body):
    start: time
    end: time


class WeeklyIn(Body):
    weekdays: list[int] = Field(default_factory=lambda: list(range(7)), min_length=1, max_length=7)
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
    active: bool = True

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
            active=self.active,
        )


async def send_command(request: Request, body: CommandBody, community_id: str) -> CommandAccepted:
    deps = request.app.state.deps
    command = new_command(body, community_id=community_id, issued_at=datetime.now(UTC))
    try:
        await deps.sink.send(
            deps.settings.commands_topic, community_id, command.model_dump_json().encode()
        )
    except Exception as exc:
        raise HTTPException(
            status_code=503,
            detail=f"could not queue the command ({type(exc).__name__}); please retry",
            headers={"Retry-After": "2"},
        ) from exc
    return CommandAccepted(command_id=command.command_id)


@router.put("/helpers/{helper_id}", status_code=status.HTTP_202_ACCEPTED)
async def upsert_helper(helper_id: str, body: HelperIn, request: Request) -> CommandAccepted:
    """Create or update a helper (volunteer, party member, staff)."""
    if body.helper_id != helper_id:
        raise HTTPException(status_code=422, detail="helper_id in the path and body differ")
    try:
        profile = body.to_profile()
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return await send_command(request, UpsertHelper(profile=profile), profile.community_id)


@router.delete("/communities/{community_id}/helpers/{helper_id}", status_code=202)
async def deactivate_helper(community_id: str, helper_id: str, request: Request) -> CommandAccepted:
    """Deactivate a helper: no more offers; history is kept."""
    return await send_command(request, DeactivateHelper(helper_id=helper_id), community_id)
