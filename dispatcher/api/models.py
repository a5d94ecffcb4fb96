"""HTTP bodies: what callers send and get back. Separate from wire contracts and DB rows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from dispatcher.roster.places import building, place_name_error
from schemas.text import unstorable_in
from schemas.vocab import Category, EmergencyNumber, Gender, Skill, Urgency


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: object) -> object:
        # What PostgreSQL or Kafka cannot hold (NUL, a lone surrogate), in a field or inside
        # its lists: refused here (422), not there.
        if why := unstorable_in(value):
            raise ValueError(why)
        return value


def place_name_only(value: str | None, *, phone: str, flat: str) -> str | None:
    """`value` when it is a place's name only; else a 422 of type place_name_has_phone or
    place_name_has_flat (`place_name_error`) whose message is `phone` or `flat`: where that
    goes instead. For a field validator of a name shown to every helper and group."""
    why = place_name_error(value)
    if why is not None:
        raise PydanticCustomError(why, phone if why == "place_name_has_phone" else flat)
    return value


class PlaceIn(Body):
    community_id: str = Field(min_length=1, max_length=64)
    grid_id: str | None = Field(default=None, max_length=64)
    compound_id: str | None = Field(default=None, max_length=64)
    building_id: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=16)
    floor: int | None = Field(default=None, ge=-5, le=200)
    household_id: str | None = Field(default=None, max_length=64)
    compound_name: str | None = Field(default=None, max_length=64)
    building_name: str | None = Field(default=None, max_length=64)

    @field_validator("compound_name", "building_name", mode="after")
    @classmethod
    def _a_name_only(cls, value: str | None) -> str | None:
        # Names are what every helper, page and group text shows ("图强小区 3号楼"): a flat
        # or a phone in one is a 422 naming the field (`loc`) and where it belongs, never
        # quoting it (the 422 carries no input).
        return place_name_only(
            value,
            phone="a name only (e.g. 3号楼): a phone goes in contact.phone, a unit or flat in "
            "place.unit and place.household_id",
            flat="a name only (e.g. 图强小区, 3号楼), shown to every helper: the unit goes in "
            "place.unit, the floor in place.floor, the flat in place.household_id, and "
            "a request's full address in contact.address (only its helper sees it)",
        )


class RequestPlaceIn(PlaceIn):
    """A help request's place. A name holding the flat is cut to its building ("3号楼2单元
    502室": "3号楼", as a ledger's 楼栋 cell is) and one holding a phone is dropped, never a
    422: the request may be someone's emergency, and a refusal would dispatch nobody and
    carry no call-now reply (the label every helper sees is the same either way)."""

    @field_validator("compound_name", "building_name", mode="after")
    @classmethod
    def _a_name_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or place_name_error(value) is None:
            return value
        found = building(value) if info.field_name == "building_name" else None
        return found.name if found is not None else None


class ContactIn(Body):
    name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 -]{5,20}$")
    address: str | None = Field(default=None, max_length=200)


class SourceIn(Body):
    bot_id: str | None = Field(default=None, max_length=64)
    group_id: str | None = Field(default=None, max_length=128)
    message_id: str | None = Field(default=None, max_length=128)


class HelpRequestIn(Body):
    """A structured help request from a chat-group bot or a staff console."""

    place: RequestPlaceIn
    category: Category
    urgency: Urgency
    skills: list[Skill] = Field(default_factory=list, max_length=10)
    helpers_needed: int = Field(default=1, ge=1, le=50)
    text: str = Field(default="", max_length=2000)
    contact: ContactIn = Field(default_factory=ContactIn)
    requester_helper_id: str | None = Field(default=None, max_length=64)
    prefer_gender: Gender | None = None
    prefer_party_member: bool = False
    source: SourceIn | None = None
    # Left out of the dump while absent: a retry's idempotency fingerprint stays the same
    # across the release that added it.
    life_threatening: bool | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description=(
            "true: someone's life is at risk: the request is critical, and the reply tells "
            "the requester to call the "
            "emergency number now, and neighbours are still sent. Absent or false: derived "
            "from category and urgency, and a fire, a weapon or an unconscious person named "
            "in `text` makes the request critical and life-threatening with that number "
            "(never lowered)"
        ),
    )


class Accepted(BaseModel):
    """202: the command is durably in Kafka; dispatch happens asynchronously."""

    request_id: str
    status: str = "accepted"
    reply_text: str = Field(description="A short Chinese reply the bot can post to the group")
    advise_emergency_call: bool = False
    emergency_number: EmergencyNumber | None = None
    merged: bool = Field(
        default=False, description="The same incident was already reported: one request"
    )
    report_id: str | None = Field(
        default=None,
        description="This report's own id: request_id unless merged. Cancel or resolve with "
        "it: a merged report's id withdraws that report only, never the earlier request",
    )


_ID = r"^[A-Za-z0-9_.:@#=+/-]{1,128}$"


class SenderIn(Body):
    id: str = Field(min_length=1, max_length=128, description="The sender's id in the chat")
    name: str | None = Field(default=None, max_length=64, description="Display name")
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 -]{5,20}$")


class ChatMessageIn(Body):
    """A chat message as the bot saw it; the classifier decides if it is a help request."""

    group_id: str = Field(pattern=_ID, description="Must be one of the bot's configured groups")
    message_id: str = Field(pattern=_ID, description="The platform's message id (dedupe key)")
    sender: SenderIn
    text: str = Field(min_length=1, max_length=2000)


class MessageOut(BaseModel):
    """200 with `is_request: false` (nothing dispatched), or 202 with the request."""

    is_request: bool
    request_id: str | None = None
    reply_text: str | None = None
    advise_emergency_call: bool = False
    emergency_number: EmergencyNumber | None = None
    merged: bool = False
    report_id: str | None = Field(
        default=None,
        description="This report's own id: request_id unless merged. Cancel or resolve with "
        "it: a merged report's id withdraws that report only, never the earlier request",
    )
    category: Category | None = None
    urgency: Urgency | None = None
    helpers_needed: int | None = None


class CancelIn(Body):
    request_id: str = Field(min_length=1, max_length=64, description="Restates the path id")
    reason: str = Field(default="", max_length=200)


class ResolveIn(Body):
    request_id: str = Field(min_length=1, max_length=64, description="Restates the path id")
    rating: int | None = Field(default=None, ge=1, le=5)
    note: str = Field(default="", max_length=200)


class RequestStatusOut(BaseModel):
    request_id: str
    community_id: str
    category: str
    urgency: str
    status: str
    outcome: str | None
    ring: str | None
    step: int
    helpers_needed: int
    helpers_assigned: int
    offers_sent: int
    opened_at: str
    first_offer_at: str | None
    first_accept_at: str | None
    closed_at: str | None
    claimed_by: str | None = None  # the staff member who took it on
    claimed_at: str | None = None
    referred_to: str | None = None  # 120/110/119/property/department
    referred_department: str | None = None
    # "held" status: a normal/low request that came in during the community's quiet hours;
    # nobody is asked before this time (then it is "open" again).
    held_until: str | None = None
    # An open request whose ladder is paused for the community's quiet hours (a withdrawal
    # or a climb at night): nobody new is asked before this time (`paused_local`: the
    # community's HH:MM); the offers already out can still be accepted. Set only while ahead.
    paused_until: str | None = None
    paused_local: str | None = None
    # The id asked about: request_id, or a merged report's own id (`merged`): then this is
    # the status of the request it was merged into, `request_id`.
    report_id: str | None = None
    merged: bool = False


class CommandAccepted(BaseModel):
    command_id: str | None = Field(description="None: nothing was sent (withdrawn)")
    status: str = "accepted"
    withdrawn: bool = Field(
        default=False,
        description="A merged report's own id: that report withdrawn, nothing sent; the "
        "request it was merged into goes on for its other reporters",
    )
