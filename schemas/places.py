"""Where someone lives: the org ladder from community down to household.

Every helper and every request carries its full path; the core derives rings from these
paths alone, so there is no separate place registry to keep in sync.
"""

from __future__ import annotations

from pydantic import Field

from schemas._base import Wire

_Id = Field(default=None, min_length=1)


class PlacePath(Wire):
    community_id: str = Field(min_length=1)  # 社区
    street_id: str | None = _Id  # 街道 (above the community; informational)
    grid_id: str | None = _Id  # 网格
    compound_id: str | None = _Id  # 小区
    building_id: str | None = _Id  # 楼栋 (unique within its compound)
    unit: str | None = None  # 单元
    floor: int | None = None
    household_id: str | None = _Id  # 户 (unique within the community)
    compound_name: str | None = None  # display, e.g. "图强小区"
    building_name: str | None = None  # display, e.g. "3号楼"

    def grid_key(self) -> tuple[str, str] | None:
        return None if self.grid_id is None else (self.community_id, self.grid_id)

    def compound_key(self) -> tuple[str, str] | None:
        return None if self.compound_id is None else (self.community_id, self.compound_id)

    def building_key(self) -> tuple[str, str, str] | None:
        if self.compound_id is None or self.building_id is None:
            return None
        return (self.community_id, self.compound_id, self.building_id)

    def building_label(self) -> str:
        """Public label for push messages: compound and building names, never unit or
        household. Names only: an id is never a name, and the readers of a stored label
        (`dispatcher.push.places`) cannot tell "tuqiang" the id from "tuqiang" the name, so
        every name is shown whatever its script; a place without names labels "" (本小区)."""
        return " ".join(p for p in (self.compound_name, self.building_name) if p)
