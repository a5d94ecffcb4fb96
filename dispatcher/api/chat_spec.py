"""A raw chat message → a request spec: the classifier says what, the group says where.

Pure (no I/O): the bot's group configuration maps the group to community/grid/compound; a
building hint in the text ("3号楼") refines it to a building, unit, floor and room.
"""

from __future__ import annotations

from dispatcher.api.models import ChatMessageIn
from dispatcher.classify import Classification
from dispatcher.groupchat.bots import GroupPlace, building_id_for
from dispatcher.numbers import NotANumber, parse_int
from schemas.catalogue import entry
from schemas.places import PlacePath
from schemas.requests import RequesterContact, RequestSource, RequestSpec
from schemas.vocab import Category, Urgency

# At these urgencies a kind with `property_when_urgent` (a repair) is 物业's business too.
_PROPERTY_URGENCIES = frozenset({Urgency.URGENT, Urgency.CRITICAL})


def _address(c: Classification) -> str | None:
    """The exact spot as the text gave it, e.g. "3号楼2单元502室": private, like a phone."""
    h = c.place_hints
    parts = [
        f"{h.building}号楼" if h.building else "",
        f"{h.unit}单元" if h.unit else "",
        f"{h.room}室" if h.room else (f"{h.floor}层" if h.floor else ""),
        h.spot or "",
    ]
    text = "".join(parts)
    return text or None


def _floor(hint: str | None) -> int | None:
    try:
        return parse_int(hint, "floor", lo=0, hi=999)
    except NotANumber:
        return None


def property_concern(category: Category, urgency: Urgency, said: Classification | None) -> bool:
    """`RequestSpec.notify_property`: the words say so (the classifier's flag: gas, fire, a
    lift, someone trapped), or the request is of a kind that is 物业's when urgent (a burst
    pipe) and is urgent, whoever decided its kind and urgency (a bot, a card's button, a
    household's tags, the language model raising it)."""
    if said is not None and said.notify_property:
        return True
    return entry(category).property_when_urgent and urgency in _PROPERTY_URGENCIES


def place_for(group: GroupPlace, c: Classification) -> PlacePath:
    hints = c.place_hints
    building_id = building_id_for(group, hints.building)
    building_name = group.building_name or (f"{hints.building}号楼" if hints.building else None)
    floor = _floor(hints.floor)
    return PlacePath(
        community_id=group.community_id,
        grid_id=group.grid_id,
        compound_id=group.compound_id,
        compound_name=group.compound_name,
        building_id=building_id,
        building_name=building_name if building_id else None,
        unit=hints.unit if building_id else None,
        floor=floor if building_id and floor is not None and -5 <= floor <= 200 else None,
    )


def spec_for_message(
    msg: ChatMessageIn,
    c: Classification,
    group: GroupPlace,
    *,
    request_id: str,
    bot_id: str,
) -> RequestSpec:
    """Only for `c.is_request`. The sender's name and phone stay in the private contact."""
    assert c.category is not None
    return RequestSpec(
        request_id=request_id,
        community_id=group.community_id,
        place=place_for(group, c),
        category=c.category,
        urgency=c.urgency,
        skills=c.skills,
        helpers_needed=min(c.helpers_needed, 50),
        text=msg.text,
        contact=RequesterContact(name=msg.sender.name, phone=msg.sender.phone, address=_address(c)),
        life_threatening=True if c.advise_emergency_call else None,
        emergency_number=c.emergency_number if c.advise_emergency_call else None,
        notify_property=property_concern(c.category, c.urgency, c),
        source=RequestSource(bot_id=bot_id, group_id=msg.group_id, message_id=msg.message_id),
    )
