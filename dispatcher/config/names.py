"""Place names and building ids in configuration: a bot group's compound and building names
and building ids (`GroupPlace`), a community's grids, compounds and buildings. A group's
names label every request raised in it, in every offer and group text, so a flat or phone
in one is refused when written (`changes.py`: `config apply`, `set-bot`, the staff API;
`bootstrap.py`: the bots file and the dev bots), with the error types of the bot API's
PlaceIn. A record already stored with one is still read (the view logs its fields):
refusing it there would drop the whole bot, or stop a process from starting. An edit that
keeps such a stored name as it was is not refused for it (a key rotation must go through):
the name is cut, as a help request's is (`RequestPlaceIn`), and reported.

A group's building id (and its `buildings` map's) is the id helpers are registered with,
and is shown where the group has no building name: an id (e.g. "b3", never a name, flat or
phone), under the group's compound, and one of that compound's buildings when the
community's document lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TypeVar

from dispatcher.groupchat.bots import BotConfig, GroupPlace
from dispatcher.roster.places import building, flat_in, place_name_error
from schemas.config import CommunityConfig

PLACE_NAME_ONLY = (
    "a place's name only (e.g. 图强小区, 3号楼), shown to every helper and group: no unit, "
    "floor, flat or phone in it"
)
# As a community document's building ids (schemas.config): what a roster registers helpers with.
_BUILDING_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
_SHOWN_IDS = 10  # known buildings named in an unknown_building error

Entity = TypeVar("Entity")


def place_names(entity: object) -> Iterator[tuple[str, str | None]]:
    """Each place name of a bot or community, with its path in the document."""
    if isinstance(entity, BotConfig):
        for group_id, place in entity.groups.items():
            yield f"groups.{group_id}.compound_name", place.compound_name
            yield f"groups.{group_id}.building_name", place.building_name
    elif isinstance(entity, CommunityConfig):
        for i, grid in enumerate(entity.grids):
            yield f"grids.{i}.name", grid.name
            for j, compound in enumerate(grid.compounds):
                yield f"grids.{i}.compounds.{j}.name", compound.name
                for k, b in enumerate(compound.buildings):
                    yield f"grids.{i}.compounds.{j}.buildings.{k}.name", b.name


def place_name_errors(entity: object) -> list[tuple[str, str]]:
    """(path, error type) of each name holding a phone or a flat (`place_name_error`)."""
    return [(path, why) for path, name in place_names(entity) if (why := place_name_error(name))]


def _cut(name: str | None, is_building: bool) -> str | None:
    """What a help request's place keeps of such a name: a building's name cut to its
    building ("3号楼2单元502室": "3号楼"), any other dropped."""
    found = building(name) if name and is_building else None
    return found.name if found is not None else None


def cut_place_names(entity: Entity, paths: set[str]) -> Entity:
    """`entity` with the names at `paths` (`place_names`) cut (`_cut`)."""
    if isinstance(entity, BotConfig):
        groups = {}
        for group_id, place in entity.groups.items():
            update = {
                f: _cut(getattr(place, f), f == "building_name")
                for f in ("compound_name", "building_name")
                if f"groups.{group_id}.{f}" in paths
            }
            groups[group_id] = place.model_copy(update=update) if update else place
        return entity.model_copy(update={"groups": groups})
    if isinstance(entity, CommunityConfig):
        grids = []
        for i, grid in enumerate(entity.grids):
            compounds = []
            for j, c in enumerate(grid.compounds):
                at = f"grids.{i}.compounds.{j}"
                buildings = tuple(
                    b.model_copy(update={"name": _cut(b.name, True) or ""})
                    if f"{at}.buildings.{k}.name" in paths
                    else b
                    for k, b in enumerate(c.buildings)
                )
                name = "" if f"{at}.name" in paths else c.name
                compounds.append(c.model_copy(update={"name": name, "buildings": buildings}))
            name = "" if f"grids.{i}.name" in paths else grid.name
            grids.append(grid.model_copy(update={"name": name, "compounds": tuple(compounds)}))
        return entity.model_copy(update={"grids": tuple(grids)})
    return entity


def building_refs(entity: object) -> Iterator[tuple[str, GroupPlace, str]]:
    """Each building id a bot's groups name (their own, their `buildings` map's), by path."""
    if isinstance(entity, BotConfig):
        for group_id, place in entity.groups.items():
            if place.building_id is not None:
                yield f"groups.{group_id}.building_id", place, place.building_id
            for hint, building_id in place.buildings.items():
                yield f"groups.{group_id}.buildings.{hint}", place, building_id


def building_id_errors(
    entity: object,
    community: Callable[[str], CommunityConfig | None],
    skip: Callable[[str, str], bool] = lambda path, building_id: False,
) -> list[tuple[str, str, str]]:
    """(path, error type, why) of each building id a bot's groups name that references no
    building: not an id (a name, a flat, a phone: never quoted), with no compound to be in,
    or not among its compound's buildings in the community's document (`community`), when
    that lists them. `skip`: ids not to check (kept as stored)."""
    errors = []
    for path, place, building_id in building_refs(entity):
        if skip(path, building_id):
            continue
        if not _BUILDING_ID.match(building_id) or flat_in(building_id):
            why = "an id such as b3 (letters, digits and _.:@- only): never a name, flat or phone"
            errors.append((path, "invalid_building_id", why))
            continue
        if place.compound_id is None:
            why = f"building {building_id!r} needs the group's compound_id (ids are per compound)"
            errors.append((path, "building_without_compound", why))
            continue
        doc = community(place.community_id)
        listed = [
            b.building_id
            for g in (doc.grids if doc is not None else ())
            for c in g.compounds
            if c.compound_id == place.compound_id
            for b in c.buildings
        ]
        if listed and building_id not in listed:
            known = ", ".join(sorted(listed)[:_SHOWN_IDS]) + (
                " …" if len(listed) > _SHOWN_IDS else ""
            )
            why = (
                f"no building {building_id!r} in compound {place.compound_id!r} of community/"
                f"{place.community_id} (its buildings: {known}): add it there, or name one of them"
            )
            errors.append((path, "unknown_building", why))
    return errors
