"""Helpers (volunteers, party members, staff): who they are, where, what they can do, when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta, timezone
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo

from schemas._base import Wire, unset
from schemas.places import PlacePath
from schemas.sealed import Sealed
from schemas.vocab import Gender, Role, Skill

CHINA_UTC_OFFSET_MINUTES = 480  # China Standard Time, no daylight saving

#: Validation context for records the worker stored before offsets were refused (its
#: tables): such a time keeps its clock figures and loses its offset, rather than the
#: record failing and the state with it. `HelperState.model_validate(rec, context=STORED)`.
STORED: Mapping[str, bool] = MappingProxyType({"stored_record": True})


def require_local(value: time, info: ValidationInfo) -> time:
    # A window is on the helper's own clock (`utc_offset_minutes` says where): a time with
    # an offset cannot be compared with the naive local time the core reads (TypeError).
    if value.tzinfo is None:
        return value
    if isinstance(info.context, Mapping) and info.context.get("stored_record"):
        return value.replace(tzinfo=None)
    raise ValueError("a local time of day carries no UTC offset (22:00, not 22:00+08:00)")


LocalTime = Annotated[time, AfterValidator(require_local)]


class TimeWindow(Wire):
    """A daily window in local time. `end <= start` wraps past midnight (22:00–07:00)."""

    start: LocalTime
    end: LocalTime

    def contains(self, t: time) -> bool:
        if self.start == self.end:
            return True  # a zero-length window means "all day"
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class WeeklyWindow(Wire):
    """Available on these weekdays (0 = Monday) within this local window."""

    weekdays: tuple[int, ...] = Field(default=(0, 1, 2, 3, 4, 5, 6), min_length=1)
    window: TimeWindow

    def contains(self, weekday: int, t: time) -> bool:
        if not self.window.contains(t):
            return False
        if self.window.start < self.window.end or t >= self.window.start:
            return weekday in self.weekdays
        # After midnight inside a wrapping window: it belongs to the previous day's shift.
        return (weekday - 1) % 7 in self.weekdays


class HelperDetail(Wire):
    """What `HelperProfile.sealed_detail` holds: opened to build the helper's own links
    (the platform login) and by the maintenance that rekeys helpers."""

    platform_user_id: str | None = Field(default=None, max_length=128, repr=False)
    unit: str | None = Field(default=None, repr=False)
    floor: int | None = Field(default=None, repr=False)


class HelperProfile(Wire):
    helper_id: str = Field(min_length=1)
    name: str = ""
    phone: str | None = Field(default=None, repr=False)  # personal: never in logs
    place: PlacePath
    roles: tuple[Role, ...] = (Role.VOLUNTEER,)
    skills: tuple[Skill, ...] = ()
    party_member: bool = False  # 党员 (also implied by Role.PARTY_MEMBER)
    availability: tuple[WeeklyWindow, ...] = ()  # empty: any time
    do_not_disturb: TimeWindow | None = None  # waived for critical requests
    utc_offset_minutes: int = CHINA_UTC_OFFSET_MINUTES
    gender: Gender | None = None
    paired_household_ids: tuple[str, ...] = ()  # 结对 households
    channels: tuple[str, ...] = ()  # e.g. "webhook:default", "wecom:grid-3"
    languages: tuple[str, ...] = ()  # e.g. "minnan"
    # Opted in: the asking chat group may see this name when they accept (dispatcher/groupchat).
    name_in_group: bool = False
    active: bool = True
    # The helper's user id on the chat platform (WeCom userid, Feishu open_id …) for
    # @-mentions; personal, so kept out of repr like the phone.
    platform_user_id: str | None = Field(default=None, max_length=128, repr=False)
    # Party organisation, recorded from the ledger (支部, 楼道党小组); dispatch reads only
    # `party_member` and roles (a party member who is 楼长 is the building's first responder).
    party_branch: str | None = Field(default=None, max_length=64, exclude_if=unset)
    party_group: str | None = Field(default=None, max_length=64, exclude_if=unset)
    # Teams (帮帮团, 能人服务队, 红管家) by id: the ones this helper belongs to, and the
    # ones they lead (a leader is offered a request for the team and accepts for n members).
    teams: tuple[str, ...] = Field(default=(), exclude_if=unset)
    leads_teams: tuple[str, ...] = Field(default=(), exclude_if=unset)
    # Issue 12.7: the API seals the phone here and sends `phone` empty (dispatcher/sealing.py);
    # `phone_key` is its keyed digest, what the core compares with a requester's.
    sealed_phone: Sealed | None = Field(default=None, repr=False)
    phone_key: str | None = Field(default=None, max_length=64)
    # Issue 12.7 too: the name (`sealed_name`, its own box so that a group told the name
    # opens nothing else) and the platform user id with the home below the building
    # (`sealed_detail`, a HelperDetail); `name`, `platform_user_id`, `place.unit`/`floor`
    # then travel empty and `place.household_id`/`paired_household_ids` as keyed digests.
    sealed_name: Sealed | None = Field(default=None, repr=False, exclude_if=unset)
    sealed_detail: Sealed | None = Field(default=None, repr=False, exclude_if=unset)

    @property
    def community_id(self) -> str:
        return self.place.community_id

    @property
    def is_party_member(self) -> bool:
        return self.party_member or Role.PARTY_MEMBER in self.roles

    @property
    def first_responder(self) -> bool:
        """党员楼长: a building head who is a party member answers first in their building."""
        return Role.BUILDING_HEAD in self.roles and self.is_party_member

    def local_time(self, now: datetime) -> datetime:
        return now.astimezone(timezone(timedelta(minutes=self.utc_offset_minutes)))
