"""Households (户) a community looks after, with vulnerability tags (独居, 85+, 失能 …):
the contact card (一户一联络卡) turns a household's call for help into a request with the
household known, so its paired helpers (结对) are asked first."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas._base import Wire
from schemas.places import PlacePath


class Vulnerability(StrEnum):
    LIVES_ALONE = "lives_alone"  # 独居
    AGED_85_PLUS = "aged_85_plus"  # 85岁以上 / 高龄
    DISABLED_CARE = "disabled_care"  # 失能 / 半失能: cannot look after themselves
    WIDOWED_CHILDLESS = "widowed_childless"  # 孤寡
    DISABILITY = "disability"  # 残疾
    CHRONIC_ILLNESS = "chronic_illness"  # 慢病 / 重病


class Household(Wire):
    household_id: str = Field(min_length=1, max_length=64)
    place: PlacePath  # its building, unit and door (the household id on it)
    tags: tuple[Vulnerability, ...] = ()
    # Personal: the card's requester contact, shown only to the helper who accepts.
    name: str | None = Field(default=None, max_length=64, repr=False)
    phone: str | None = Field(default=None, max_length=32, repr=False)
    address: str | None = Field(default=None, max_length=128, repr=False)

    @property
    def community_id(self) -> str:
        return self.place.community_id
