"""Place names in configuration: a bot group's compound and building names (`GroupPlace`),
a community's grids, compounds and buildings. A group's names label every request raised
in it, in every offer and group text, so a flat or phone in one is refused when written
(`changes.py`: `config apply`, `set-bot`, the staff API), with the error types of the bot
API's PlaceIn. A record already stored with one is still read (the view logs its fields):
refusing it there would drop the whole bot, or stop a process from starting."""

from __future__ import annotations

from collections.abc import Iterator

from dispatcher.groupchat.bots import BotConfig
from dispatcher.roster.places import place_name_error
from schemas.config import CommunityConfig


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
