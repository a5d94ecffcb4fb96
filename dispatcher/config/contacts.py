"""Checks that a community's whistle contacts can be reached, made whenever a change could
break them (audit s43 F2): the push planner drops a contact whose endpoint is missing or
serves another community, and one whose area no request of the community is in, so such a
contact would be a name on a list that the whistle never reaches.

Pure: `Endpoint` answers, for an endpoint's name, whether it exists after the change and
the community that then owns it (None: district-wide).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from dispatcher.push.recipients import serves
from dispatcher.redact import masked
from dispatcher.roster.places import flat_in
from schemas.config import CommunityConfig, Grid, WhistleRecipient

# name → (exists, owner) as the configuration will be after the change being checked
Endpoint = Callable[[str], tuple[bool, str | None]]
# A bot group's place in the community: its grid, compound and the building ids its
# requests can carry (its own, its `buildings` map's).
GroupArea = tuple[str | None, str | None, frozenset[str]]
CONTACT_NAME_ONLY = (
    "a contact's name only (e.g. 派出所, 网格员小林): it is logged and shown to staff; "
    "no phone, flat or address in it (the endpoint is how the contact is reached)"
)


def who(contact: WhistleRecipient) -> str:
    """A contact as staff name it in a refusal or a log line: its role and its name with
    every digit masked (a name stored before names were checked may hold a phone)."""
    return f"contact {contact.role.value} {masked(contact.name)!r}"


def kept(community: CommunityConfig, stored: CommunityConfig | None) -> Callable[[int], bool]:
    """Whether the document's contact at an index is one the community was stored with,
    exactly: what an edit keeps as stored is not refused (as for place names, session 40),
    so a community stored before these checks still takes a hotline or plan change."""
    before = [] if stored is None else [c.model_dump() for c in stored.contacts]
    return lambda i: community.contacts[i].model_dump() in before


def name_problems(community: CommunityConfig, skip: Callable[[int], bool]) -> list[tuple[str, str]]:
    """(path, code) of each contact whose name holds a phone or a flat (`flat_in`, as for
    place names): "contact_name_has_phone" / "contact_name_has_flat". The planner logs a
    contact's name when it cannot reach it, and refusals show it to staff."""
    return [
        (f"contacts.{i}.name", f"contact_name_has_{why}")
        for i, c in enumerate(community.contacts)
        if not skip(i) and (why := flat_in(c.name))
    ]


def reaches(endpoint: Endpoint, name: str, community_id: str) -> bool:
    exists, owner = endpoint(name)
    return exists and serves(name, owner, community_id)


def endpoint_problems(
    community: CommunityConfig, endpoint: Endpoint, skip: Callable[[int], bool]
) -> list[tuple[str, str]]:
    """(code, reason) for each contact whose endpoint does not exist or does not serve the
    community: `unknown_endpoint`, `foreign_endpoint`."""
    found: list[tuple[str, str]] = []
    for i, c in enumerate(community.contacts):
        if skip(i):
            continue
        exists, owner = endpoint(c.endpoint)
        if not exists:
            found.append(("unknown_endpoint", f"{who(c)}: endpoint {c.endpoint!r} does not exist"))
        elif not serves(c.endpoint, owner, community.community_id):
            found.append(
                (
                    "foreign_endpoint",
                    f"{who(c)}: endpoint {c.endpoint!r} belongs to another community: "
                    "the whistle never sends this community's requests there",
                )
            )
    return found


def area_problems(
    community: CommunityConfig, groups: Iterable[GroupArea], skip: Callable[[int], bool]
) -> list[str]:
    """A reason for each contact narrowed to a grid, compound or building that the document
    does not list (a typo such as G1 for g1 matches no request). Checked only where the
    document lists that level: a community with no grids, or a grid with no compounds,
    says nothing about the areas below it. An area one of the community's bot groups is in
    is taken too: nothing checks a group's place against the document, and the push engine
    reaches such a contact for that group's requests."""
    groups = list(groups)
    found: list[str] = []
    for i, c in enumerate(community.contacts):
        if skip(i) or any(_in_group(c, g) for g in groups):
            continue
        if why := _area_problem(community.grids, c):
            found.append(f"{who(c)}: {why}")
    return found


def _in_group(c: WhistleRecipient, group: GroupArea) -> bool:
    grid_id, compound_id, buildings = group
    return (
        c.grid_id in (None, grid_id)
        and c.compound_id in (None, compound_id)
        and (c.building_id is None or c.building_id in buildings)
    )


def _area_problem(grids: tuple[Grid, ...], c: WhistleRecipient) -> str | None:
    if not grids:
        return None
    in_grid = [g for g in grids if c.grid_id in (None, g.grid_id)]
    if not in_grid:
        listed = _ids(g.grid_id for g in grids)
        return f"grid {c.grid_id!r} is not among the community's grids ({listed})"
    compounds = [k for g in in_grid for k in g.compounds]
    if not compounds or (c.compound_id is None and c.building_id is None):
        return None
    in_compound = [k for k in compounds if c.compound_id in (None, k.compound_id)]
    if not in_compound:
        return (
            f"compound {c.compound_id!r} is not among the compounds of "
            f"{'grid ' + repr(c.grid_id) if c.grid_id else 'the community'} "
            f"({_ids(k.compound_id for k in compounds)})"
        )
    buildings = [b.building_id for k in in_compound for b in k.buildings]
    if c.building_id is None or not buildings or c.building_id in buildings:
        return None
    return f"building {c.building_id!r} is not among the buildings listed ({_ids(buildings)})"


def _ids(ids: Iterator[str] | list[str]) -> str:
    listed = sorted(set(ids))
    shown = ", ".join(listed[:10])
    return shown + (f", … {len(listed) - 10} more" if len(listed) > 10 else "")


def users(
    communities: list[CommunityConfig], name: str
) -> Iterator[tuple[CommunityConfig, WhistleRecipient]]:
    """Each community's contact that names endpoint `name`."""
    for community in communities:
        for c in community.contacts:
            if c.endpoint == name:
                yield community, c
