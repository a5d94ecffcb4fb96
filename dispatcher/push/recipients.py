"""Who the whistle (吹哨报到) and the emergency-referral rung call in a community.

ONE function, `whistle_recipients(registry, community_id)`, reads the list. For now it is
backed by the push endpoint naming convention (configuration in `DISPATCH_PUSH_ENDPOINTS`):

    community-<id>                         the community's group robot   (role: group)
    community-<id>.<role>                  grid_group, grid_worker, property, duty
    community-<id>.<role>.<name>           co_building.<unit>, department.<name>

Configuration as live data (issue 14.1) will replace the convention behind this function;
callers only see `Recipient`s.

A name is not proof of ownership: anyone who may write an endpoint could call it
`community-<another id>.duty.x`. So a community's messages go only to endpoints it owns or
district-wide ones (`serves`), whatever the name says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dispatcher.push.endpoints import EndpointConfig, EndpointRegistry

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


PREFIX = "community-"


def addresses(endpoint: str, community_id: str) -> bool:
    """Whether the name is one of `community_id`'s by the convention."""
    base = PREFIX + community_id
    return endpoint == base or endpoint.startswith(base + ".")


def serves(endpoint: str, owner: str | None, community_id: str) -> bool:
    """Whether an endpoint may carry `community_id`'s messages: one of no community
    (district-wide: only district staff write those) or of that very community."""
    if owner is None or owner == community_id:
        return True
    # Seeded from the environment (config/bootstrap.py), `community-<id>.<role>` is owned
    # by "<id>.<role>": the operator's own naming, so it counts as the community's.
    return addresses(endpoint, community_id) and owner == endpoint.removeprefix(PREFIX)


class OwnedEndpoints(EndpointRegistry):
    """The live registry (dispatcher/config/view.py), with the community that owns each
    endpoint (None: district-wide)."""

    def __init__(self) -> None:
        super().__init__()
        self._owners: dict[str, str | None] = {}

    def replace(self, endpoints: Iterable[EndpointConfig]) -> None:
        self.replace_owned((e, None) for e in endpoints)

    def replace_owned(self, endpoints: Iterable[tuple[EndpointConfig, str | None]]) -> None:
        pairs = list(endpoints)
        super().replace(e for e, _ in pairs)
        self._owners = {e.name: owner for e, owner in pairs}

    def owner(self, name: str) -> str | None:
        return self._owners.get(name)


def _parse(community_id: str, endpoint: str) -> Recipient | None:
    if not addresses(endpoint, community_id):
        return None
    rest = endpoint.removeprefix(PREFIX + community_id)
    if not rest:
        return Recipient(endpoint, "group", endpoint)
    role, _, name = rest[1:].partition(".")
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
