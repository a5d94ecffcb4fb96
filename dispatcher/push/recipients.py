"""Who the whistle (吹哨报到) and the emergency-referral rung call in a community.

ONE function, `whistle_recipients(registry, community_id)`, reads the list. For now it is
backed by the push endpoint naming convention (configuration in `DISPATCH_PUSH_ENDPOINTS`):

    community-<id>                         the community's group robot   (role: group)
    community-<id>.<role>                  grid_group, grid_worker, property, duty
    community-<id>.<role>.<name>           co_building.<unit>, department.<name>

Configuration as live data (issue 14.1) will replace the convention behind this function;
callers only see `Recipient`s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ROLES = ("group", "grid_group", "grid_worker", "property", "co_building", "department", "duty")
# The referral rung needs a person now: the duty officer, else the grid worker.
REFERRAL_ROLES = ("duty", "grid_worker")
ROLE_ZH = {
    "group": "社区群",
    "grid_group": "网格群",
    "grid_worker": "网格员",
    "property": "物业",
    "co_building": "共建单位",
    "department": "职能部门",
    "duty": "社区值班人员",
}


@dataclass(frozen=True)
class Recipient:
    recipient_id: str  # stable: bound into this recipient's links; the endpoint's name
    role: str
    endpoint: str
    name: str = ""  # the unit or department, when the role has several

    @property
    def label(self) -> str:
        return f"{ROLE_ZH[self.role]}{f'（{self.name}）' if self.name else ''}"


def _parse(community_id: str, endpoint: str) -> Recipient | None:
    base = f"community-{community_id}"
    if endpoint == base:
        return Recipient(endpoint, "group", endpoint)
    if not endpoint.startswith(base + "."):
        return None
    role, _, name = endpoint.removeprefix(base + ".").partition(".")
    if role not in ROLES or role == "group":
        return None
    return Recipient(endpoint, role, endpoint, name)


def whistle_recipients(registry: Iterable[str], community_id: str) -> list[Recipient]:
    """Everyone the whistle calls in `community_id`, from the endpoint names in `registry`."""
    found = (_parse(community_id, name) for name in registry)
    return sorted((r for r in found if r is not None), key=lambda r: (ROLES.index(r.role), r.name))


def referral_recipients(everyone: Iterable[Recipient]) -> list[Recipient]:
    """Of a community's whistle list, who the emergency-referral rung reaches: the duty
    officer, else the grid worker(s)."""
    everyone = list(everyone)
    for role in REFERRAL_ROLES:
        chosen = [r for r in everyone if r.role == role]
        if chosen:
            return chosen
    return []
