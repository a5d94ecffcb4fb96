"""Configuration as data (issue 14.1): the `config` topic's records and a community's document.

The `config` topic is compacted and keyed by entity (`community/<id>`, `bot/<id>`,
`endpoint/<name>`): each record carries the entity's whole new state (None: removed), so
after compaction the topic still holds the current configuration, and a process that reads
it from the beginning knows it. Bots and push endpoints keep their own models
(dispatcher/groupchat/bots.py, dispatcher/push/endpoints.py); their state rides here as a
plain object, checked by whoever applies it. Secrets travel in these records (Kafka ACLs
protect the topic); they never reach the audit, the logs or an API answer.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from schemas._base import UtcDatetime, Wire
from schemas.helpers import LocalTime
from schemas.text import unstorable_in

_ID = r"^[A-Za-z0-9_.:@-]{1,64}$"


class ConfigKind(StrEnum):
    COMMUNITY = "community"
    BOT = "bot"
    ENDPOINT = "endpoint"


def config_key(kind: ConfigKind, entity_id: str) -> str:
    """The record key on the compacted topic: one current state per entity."""
    return f"{kind.value}/{entity_id}"


class ConfigRecord(Wire):
    """One change of one entity, written by the API (staff API or CLI) only."""

    v: Literal[1] = 1
    change_id: str = Field(min_length=1, max_length=64)
    kind: ConfigKind
    id: str = Field(pattern=_ID)
    actor: str = Field(min_length=1, max_length=64)  # the staff account, or "bootstrap"
    issued_at: UtcDatetime
    communities: tuple[str, ...] = ()  # the communities it belongs to (scope, audit)
    state: dict[str, Any] | None = None  # None: removed

    @model_validator(mode="after")
    def _storable(self) -> ConfigRecord:
        # The worker records every record in PostgreSQL: one it cannot hold is never written
        # (nor, read back from the topic, applied).
        fields = ("change_id", "actor", "communities", "state")
        if why := unstorable_in({name: getattr(self, name) for name in fields}):
            raise ValueError(why)
        return self

    @property
    def key(self) -> str:
        return config_key(self.kind, self.id)


class Hotline(Wire):
    label: str = Field(min_length=1, max_length=32)  # 社区值班, 物业, 派出所…
    number: str = Field(pattern=r"^\+?[0-9 -]{3,20}$")


class QuietHours(Wire):
    """When the community asks nobody for non-urgent help (e.g. 22:00-07:00), on the
    community's clock: a time with a UTC offset is refused (the core compares it with naive
    local times: a TypeError for every non-urgent request)."""

    start: LocalTime
    end: LocalTime


class Building(Wire):
    building_id: str = Field(pattern=_ID)
    name: str = Field(default="", max_length=64)


class Compound(Wire):
    compound_id: str = Field(pattern=_ID)
    name: str = Field(default="", max_length=64)
    buildings: tuple[Building, ...] = Field(default=(), max_length=2000)


class Grid(Wire):
    grid_id: str = Field(pattern=_ID)
    name: str = Field(default="", max_length=64)
    compounds: tuple[Compound, ...] = Field(default=(), max_length=500)


class RecipientRole(StrEnum):
    """Who the whistle (吹哨报到) calls besides the helpers on the ladder."""

    GRID_GROUP = "grid_group"  # the grid's chat group
    GRID_WORKER = "grid_worker"  # 网格员
    PROPERTY = "property"  # 物业公司
    CO_BUILDING = "co_building"  # 共建单位
    DEPARTMENT = "department"  # a named department (派出所, 卫生服务中心…)


class WhistleRecipient(Wire):
    """A contact the whistle reaches through a push endpoint of the configuration. A grid,
    compound or building narrows it to requests there; none: the whole community."""

    role: RecipientRole
    name: str = Field(min_length=1, max_length=64)
    endpoint: str = Field(min_length=1, max_length=64)  # a push endpoint's name
    grid_id: str | None = Field(default=None, pattern=_ID)
    compound_id: str | None = Field(default=None, pattern=_ID)
    building_id: str | None = Field(default=None, pattern=_ID)

    def covers(self, grid_id: str | None, compound_id: str | None, building_id: str | None) -> bool:
        """Is a request at this place within this recipient's area?"""
        for mine, theirs in (
            (self.grid_id, grid_id),
            (self.compound_id, compound_id),
            (self.building_id, building_id),
        ):
            if mine is not None and mine != theirs:
                return False
        return True


def known_zone(value: str) -> str:
    """`value` if it names a time zone this machine can load, else ValueError with the reason
    (a community's zone; the quiet-hours command's, checked alike)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a tzdata folder ("America": IsADirectoryError), not a zone (s43 F5).
        raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
    return value


class CommunityConfig(Wire):
    community_id: str = Field(pattern=_ID)
    display_name: str = Field(min_length=1, max_length=64)
    hotlines: tuple[Hotline, ...] = Field(default=(), max_length=20)
    # The escalation plan set's name (`schemas.plans.PLAN_SETS`; checked when written).
    plan: str = Field(default="standard", pattern=_ID)
    quiet_hours: QuietHours | None = None
    # The community's local time, for its quiet hours (an IANA zone name).
    time_zone: str = Field(default="Asia/Shanghai", min_length=1, max_length=64)
    grids: tuple[Grid, ...] = Field(default=(), max_length=200)
    contacts: tuple[WhistleRecipient, ...] = Field(default=(), max_length=200)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @model_validator(mode="after")
    def _unique_ids(self) -> CommunityConfig:
        grids = [g.grid_id for g in self.grids]
        compounds = [c.compound_id for g in self.grids for c in g.compounds]
        for what, ids in (("grid", grids), ("compound", compounds)):
            if len(set(ids)) != len(ids):
                raise ValueError(f"two {what}s share an id")
        return self
