"""The classifier's answer: a frozen, JSON-ready value."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.vocab import Category, EmergencyNumber, Skill, Urgency


class PlaceHints(BaseModel):
    """Where in the compound, as far as the text says. Digits as strings ("3", "502")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    building: str | None = None  # 3号楼 / 5栋 / 5幢 / 12楼3单元 → "12"
    unit: str | None = None  # 二单元 → "2"
    floor: str | None = None  # 抬上四楼 / 12层 → "4" / "12"; or from the room number
    room: str | None = None  # 502室 / 3-2-502
    spot: str | None = None  # 小区门口, 地下车库, 电梯, 楼道 …


class Classification(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    is_request: bool
    category: Category | None = None  # None exactly when it is not a request
    urgency: Urgency
    skills: tuple[Skill, ...] = ()
    helpers_needed: int = Field(default=1, ge=1)
    helpers_max: int = Field(default=1, ge=1)  # upper end of "三四个人"; ≥ helpers_needed
    advise_emergency_call: bool = False
    emergency_number: EmergencyNumber | None = None
    notify_property: bool = False  # gas, fire, elevator, urgent repairs: tell 物业 too
    place_hints: PlaceHints = PlaceHints()
    advice: str | None = None  # Chinese safety advice for the requester, emergencies only
    script: Literal["simplified", "traditional", "mixed", "unknown"] = "unknown"
    reasons: tuple[str, ...] = ()  # rule hits, for ops: "red_flag:medical:晕倒" …

    @model_validator(mode="after")
    def _consistent(self) -> Classification:
        if self.is_request != (self.category is not None):
            raise ValueError("category is set exactly for requests")
        if self.helpers_max < self.helpers_needed:
            raise ValueError("helpers_max below helpers_needed")
        if self.emergency_number is not None and not self.advise_emergency_call:
            raise ValueError("an emergency number is always advised")
        if self.advise_emergency_call and not self.advice:
            raise ValueError("an emergency call comes with advice text")
        return self
