"""A help request as submitted: who, where, what, how urgent, which skills, how many."""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas._base import Wire, unset
from schemas.catalogue import entry
from schemas.places import PlacePath
from schemas.sealed import Sealed
from schemas.vocab import (
    REMOTE_CAPABLE_SKILLS,
    Category,
    EmergencyNumber,
    Gender,
    Skill,
    Urgency,
)


def life_threatening(urgency: Urgency, category: Category | None, said: bool | None) -> bool:
    """The one rule for "someone's life is at risk" (a request's, and a chat message's before
    it is one): `said` when someone said so (a bot's `life_threatening`, the classifier's red
    flag), else a critical request of any kind but one the ladder hands to property (a burst
    pipe): `CategoryEntry.critical_is_life_threatening`. What it holds for, the requester is
    told to call the emergency number now, and the intake charges only the bot's emergency
    allowance (`dispatcher/api/ratelimit.py`)."""
    if said is not None:
        return said
    return (
        urgency is Urgency.CRITICAL
        and category is not None
        and entry(category).critical_is_life_threatening
    )


def emergency_number_for(
    urgency: Urgency,
    category: Category | None,
    said: bool | None,
    number: EmergencyNumber | None,
) -> EmergencyNumber | None:
    """Whom to call now by `life_threatening`'s rule: the number the words named, else the
    kind's, else 120; None only when life is not at risk. Never None for a life-threatening
    one: the whistle (`WhistleBlown.emergency_number`) and the referral (`ladder._refer_rung`)
    name this number too, so the three never disagree (before session 41 a critical `other`
    request got no number at intake or at the whistle, and 120 at the referral)."""
    if not life_threatening(urgency, category, said):
        return None
    kind = entry(category).emergency if category is not None else None
    return number or kind or EmergencyNumber.AMBULANCE


class RequesterContact(Wire):
    """Personal data: shown only to assigned helpers and staff, never in offers or logs."""

    name: str | None = Field(default=None, repr=False)
    phone: str | None = Field(default=None, repr=False)
    address: str | None = Field(default=None, repr=False)  # exact, e.g. "3号楼2单元501"


class RequestPrivate(Wire):
    """What `RequestSpec.sealed` holds: the contact and the free text (which may name
    the flat or a phone number)."""

    contact: RequesterContact = Field(default_factory=RequesterContact, repr=False)
    text: str = Field(default="", repr=False)
    # The place below the building (单元, floor): the core routes on the building, so these
    # travel only in the box; a box sealed before they were held them plain on the place.
    unit: str | None = Field(default=None, repr=False, exclude_if=unset)
    floor: int | None = Field(default=None, repr=False, exclude_if=lambda v: v is None)


class RequestSource(Wire):
    bot_id: str | None = None
    group_id: str | None = None
    message_id: str | None = None


class SkillNeed(Wire):
    """`count` helpers, each having any one of `skills` (empty: any willing neighbour)."""

    skills: tuple[Skill, ...] = ()
    count: int = Field(default=1, ge=1, le=50)

    @property
    def remote(self) -> bool:
        """Every listed skill can help by phone: match across the whole community at once."""
        return bool(self.skills) and all(s in REMOTE_CAPABLE_SKILLS for s in self.skills)


class RequestSpec(Wire):
    request_id: str = Field(min_length=1)
    community_id: str = Field(min_length=1)
    place: PlacePath
    category: Category
    urgency: Urgency
    skills: tuple[Skill, ...] = ()
    helpers_needed: int = Field(default=1, ge=1, le=50)
    # Explicit needs override the rule in `effective_needs`; their counts must then add
    # up to `helpers_needed`.
    needs: tuple[SkillNeed, ...] = ()
    text: str = ""
    contact: RequesterContact = Field(default_factory=RequesterContact, repr=False)
    requester_helper_id: str | None = None  # never offered their own request
    requester_household_id: str | None = None  # pairing lookup; defaults to place's
    prefer_gender: Gender | None = None
    prefer_party_member: bool = False
    life_threatening: bool | None = None  # None: derived from urgency and category
    # Whom to call when life-threatening, as the words said it (a fire in `other`: 119);
    # None: the category's (`emergency()`). Left out of the JSON while None.
    emergency_number: EmergencyNumber | None = Field(default=None, exclude_if=unset)
    # Property management's business too (gas, fire, a lift, an urgent repair such as a
    # burst pipe): its staff on duty are offered in the first wave, beside the neighbours.
    # Left out of the JSON while false.
    notify_property: bool = Field(default=False, exclude_if=unset)
    source: RequestSource | None = None
    # Issue 12.7: the API seals `contact` and `text` here (dispatcher/sealing.py) and sends
    # them empty; records from before carry them plain (the worker seals those on decode).
    sealed: Sealed | None = Field(default=None, repr=False)
    # A keyed digest of the requester's phone, never the phone: the core compares it with
    # the helpers' `phone_key` so nobody is offered their own request.
    requester_phone_key: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _consistent(self) -> RequestSpec:
        if self.place.community_id != self.community_id:
            raise ValueError("place.community_id must equal community_id")
        if self.needs and sum(n.count for n in self.needs) != self.helpers_needed:
            raise ValueError("helpers_needed must equal the sum of needs' counts")
        return self

    def effective_needs(self) -> tuple[SkillNeed, ...]:
        """Slots to fill, grouped by skill.

        Without explicit needs: presence skills get `helpers_needed` slots; remote-capable
        skills asked for beside them get one extra slot (a doctor or nurse guiding by
        phone while drivers come); remote-only requests get `helpers_needed` slots.
        """
        if self.needs:
            return self.needs
        presence = tuple(s for s in self.skills if s not in REMOTE_CAPABLE_SKILLS)
        remote = tuple(s for s in self.skills if s in REMOTE_CAPABLE_SKILLS)
        if presence and remote:
            return (
                SkillNeed(skills=presence, count=self.helpers_needed),
                SkillNeed(skills=remote, count=1),
            )
        return (SkillNeed(skills=presence or remote, count=self.helpers_needed),)

    def total_slots(self) -> int:
        return sum(n.count for n in self.effective_needs())

    def household_for_pairing(self) -> str | None:
        return self.requester_household_id or self.place.household_id

    def is_life_threatening(self) -> bool:
        return life_threatening(self.urgency, self.category, self.life_threatening)

    def emergency(self) -> EmergencyNumber | None:
        """The number the requester must call now, or None (not life-threatening): the one
        value a reply, the whistle and the referral name."""
        return emergency_number_for(
            self.urgency, self.category, self.life_threatening, self.emergency_number
        )
