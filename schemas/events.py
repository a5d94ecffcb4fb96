"""Events: past-tense facts the core emits on the `events` topic.

Ids are deterministic (`event_id_for(command_id, index)`): re-processing a command after a
crash yields the same ids, and the record agent upserts by id.

Personal data appears in exactly one event type, `HelperAssigned`, which goes only to the
assigned helper; its contact and text travel sealed (`schemas/sealed.py`), its personal
fields are `repr=False`. Offers carry a building label and
the category, never a phone number, unit or household.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from schemas._base import UtcDatetime, Wire, absent, single, unset
from schemas._builders import builder
from schemas.helper_messages import HelperSummarySent, HelperWelcomed, HelperWelcomeOutcome
from schemas.holds import RequestHeld, RequestReleased
from schemas.places import PlacePath
from schemas.plans import LadderStep
from schemas.requests import RequesterContact
from schemas.sealed import Sealed
from schemas.staff_actions import RequestClaimed, WhistleReportedBack
from schemas.vocab import Category, EmergencyNumber, Party, ReferralTarget, Ring, Urgency

EVENT_SCHEMA_VERSION: Literal[1] = 1
_EVENT_NAMESPACE = uuid.UUID("6f1d3a52-7c0e-4c69-9a0b-2f6a1d8e5b10")


_NAMESPACE_BYTES = _EVENT_NAMESPACE.bytes
# The RFC 4122 variant bits (10xx) applied to the first hex digit of the fourth group.
_VARIANT_DIGIT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


def _uuid5(name: str) -> str:
    """`str(uuid.uuid5(_EVENT_NAMESPACE, name))` on strings: the core makes two per offer,
    and building `UUID` objects took most of their cost."""
    return uuid5_of(_NAMESPACE_BYTES + name.encode())


def uuid5_of(data: bytes) -> str:
    """`_uuid5` of a name given as the namespace's bytes followed by the name's UTF-8 (see
    `event_id_prefix`, `offer_id_prefix`): the hot path encodes the shared head once."""
    h = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:32]}"


def event_id_for(command_id: str, index: int) -> str:
    return _uuid5(f"{command_id}#{index}")


def event_id_prefix(command_id: str) -> bytes:
    """`uuid5_of(event_id_prefix(c) + str(i).encode()) == event_id_for(c, i)`."""
    return _NAMESPACE_BYTES + f"{command_id}#".encode()


def offer_id_for(request_id: str, helper_id: str) -> str:
    """One offer per helper per request, so the id is derived from exactly that pair."""
    return _uuid5(f"offer:{request_id}:{helper_id}")


def offer_id_prefix(request_id: str) -> bytes:
    """`uuid5_of(offer_id_prefix(r) + h.encode()) == offer_id_for(r, h)`."""
    return _NAMESPACE_BYTES + f"offer:{request_id}:".encode()


class RequestOpened(Wire):
    type: Literal["request_opened"] = "request_opened"
    category: Category
    urgency: Urgency
    helpers_needed: int
    building_label: str
    ladder: tuple[LadderStep, ...]  # the snapshotted plan's rungs
    ends_at: UtcDatetime


class EmergencyCallAdvised(Wire):
    """Tell the requester to call the emergency number now, while neighbours are notified
    (nobody has accepted yet: no arrival is promised). `message`: the text as written then
    (`core.request_commands.EMERGENCY_MESSAGES`; before session 41 "邻居们也正在赶来帮忙")."""

    type: Literal["emergency_call_advised"] = "emergency_call_advised"
    number: EmergencyNumber
    message: str


class OfferSent(Wire):
    type: Literal["offer_sent"] = "offer_sent"
    offer_id: str
    helper_id: str
    ring: Ring
    step: int
    expires_at: UtcDatetime
    category: Category
    urgency: Urgency
    building_label: str
    helpers_needed: int
    skills: tuple[str, ...]  # the skills this helper is asked for
    remote: bool  # may help by phone
    # A team offer (to the team's leader, who may accept for up to `team_size` members).
    team_id: str | None = Field(default=None, exclude_if=unset)
    team_size: int = Field(default=0, exclude_if=unset)
    again: int = Field(default=0, exclude_if=unset)  # as `WaveOffer.again`


class WaveOffer(Wire):
    """One helper's offer in an `OffersSent`: what differs from helper to helper."""

    offer_id: str
    helper_id: str
    ring: Ring
    skills: tuple[str, ...]  # the skills this helper is asked for
    remote: bool  # may help by phone
    team_id: str | None = Field(default=None, exclude_if=unset)
    team_size: int = Field(default=0, exclude_if=unset)
    # How often this offer was sent again after its helper was stood down as covered, a
    # reopened slot asking them anew under the same offer id: 0 the first ask (and every
    # event from before session 41); the push says so, its links answer that ask.
    again: int = Field(default=0, exclude_if=unset)


class OffersSent(Wire):
    """A wave's offers in one event: what as many `OfferSent` events said before (readers
    still take both; `sent_offers` gives either as the single form). The request's facts
    once, then each helper's offer. Each helper still gets a push of their own."""

    type: Literal["offers_sent"] = "offers_sent"
    step: int
    expires_at: UtcDatetime
    category: Category
    urgency: Urgency
    building_label: str
    helpers_needed: int
    offers: tuple[WaveOffer, ...] = Field(min_length=1)


def sent_offers(body: OfferSent | OffersSent) -> list[OfferSent]:
    """Each offer an event made, as `OfferSent`: built unvalidated (every value comes from
    a validated body) by the generated constructor, not `model_construct`, which costs
    ~3.5 times as much per offer (the notify agent plans each offer's push from these;
    the record head and the metrics read the wave's `WaveOffer`s directly)."""
    if isinstance(body, OfferSent):
        return [body]
    build = builder(OfferSent)
    step, expires_at, category = body.step, body.expires_at, body.category
    urgency, label, needed = body.urgency, body.building_label, body.helpers_needed
    return [
        build(
            offer_id=o.offer_id,
            helper_id=o.helper_id,
            ring=o.ring,
            step=step,
            expires_at=expires_at,
            category=category,
            urgency=urgency,
            building_label=label,
            helpers_needed=needed,
            skills=o.skills,
            remote=o.remote,
            team_id=o.team_id,
            team_size=o.team_size,
            again=o.again,
        )
        for o in body.offers
    ]


class OfferDeclined(Wire):
    type: Literal["offer_declined"] = "offer_declined"
    offer_id: str
    helper_id: str
    # 来不了 pressed on an offer already stood down as covered: the offer had its end (the
    # stand-down); this records the no, so a reopened slot does not ask them again.
    after_stand_down: bool = Field(default=False, exclude_if=unset)


class OfferExpired(Wire):
    """No answer within the offer's time."""

    type: Literal["offer_expired"] = "offer_expired"
    offer_id: str
    helper_id: str


class OfferFailed(Wire):
    type: Literal["offer_failed"] = "offer_failed"
    offer_id: str
    helper_id: str
    reason: str = ""


class HelperAssigned(Wire):
    """Goes only to the assigned helper: it carries the requester's contact and place."""

    type: Literal["helper_assigned"] = "helper_assigned"
    offer_id: str
    helper_id: str
    slot: int  # 0-based across all the request's slots
    skills: tuple[str, ...]
    remote: bool
    # Plain only in events from before issue 12.7; since then empty, and `sealed` holds
    # the contact and text (opened by the notify agent and the answer page only).
    contact: RequesterContact = Field(default_factory=RequesterContact, repr=False)
    place: PlacePath = Field(repr=False)
    text: str = Field(default="", repr=False)
    # The helper's name for the asking chat group, only if they opted in (name_in_group).
    group_name: str | None = Field(default=None, repr=False)
    # Since the helper's name is sealed (issue 12.7): their name box, copied by the core
    # when they opted in; the API's group loop opens it (dispatcher/sealing.group_name).
    sealed_group_name: Sealed | None = Field(default=None, repr=False, exclude_if=unset)
    # A team's leader accepted for `members` people (slots `slot` and the next ones).
    team_id: str | None = Field(default=None, exclude_if=unset)
    members: int = Field(default=1, exclude_if=single)
    sealed: Sealed | None = Field(default=None, repr=False)
    # On the leader's event: the members they signed up (each has an event of their own,
    # with `signed_up_by` the leader; its `offer_id` names that member's assignment).
    member_ids: tuple[str, ...] = Field(default=(), exclude_if=unset)
    signed_up_by: str | None = Field(default=None, exclude_if=unset)


# "helping_elsewhere": the helper took another request's in-person need (one errand in person
# at a time, core/presence.py); no push says so (deliveries: they are on their way there).
StandDownReason = Literal[
    "covered", "cancelled", "resolved", "expired", "referred", "helping_elsewhere"
]


class OfferStoodDown(Wire):
    """ "已有邻居接手，谢谢": the offer (or assignment) is no longer needed."""

    type: Literal["offer_stood_down"] = "offer_stood_down"
    offer_id: str
    helper_id: str
    reason: StandDownReason
    was_assigned: bool = False
    # A referral's target (reason "referred"): the helper hears where it went (物业, a
    # department, 专业救援). None in events written before it and for other reasons.
    to: ReferralTarget | None = Field(default=None, exclude_if=unset)


class StoodDown(Wire):
    """One offer (or assignment) of an `OffersStoodDown`."""

    offer_id: str
    helper_id: str
    was_assigned: bool = Field(default=False, exclude_if=unset)


class OffersStoodDown(Wire):
    """The offers (and assignments) of one request stood down by one decision, in one event:
    what as many `OfferStoodDown` events said before (readers still take both; `stand_downs`
    gives either as the single form). Each helper still gets a push of their own."""

    type: Literal["offers_stood_down"] = "offers_stood_down"
    reason: StandDownReason
    offers: tuple[StoodDown, ...] = Field(min_length=1)
    to: ReferralTarget | None = Field(default=None, exclude_if=unset)  # as OfferStoodDown's


def stand_downs(body: OfferStoodDown | OffersStoodDown) -> list[OfferStoodDown]:
    """Each offer an event stood down, as `OfferStoodDown` (built unvalidated, as
    `sent_offers`: every value comes from a validated body)."""
    if isinstance(body, OfferStoodDown):
        return [body]
    build = builder(OfferStoodDown)
    reason = body.reason
    # Passed only when set: left out, it stays out of the fields-set, as validation leaves it.
    to = {} if body.to is None else {"to": body.to}
    return [
        build(
            offer_id=o.offer_id,
            helper_id=o.helper_id,
            reason=reason,
            was_assigned=o.was_assigned,
            **to,
        )
        for o in body.offers
    ]


class RingEscalated(Wire):
    type: Literal["ring_escalated"] = "ring_escalated"
    from_ring: Ring
    to_ring: Ring
    step: int


class RequestPaused(Wire):
    """Quiet hours began while the ladder of a request they would hold (normal or low, not
    life-threatening: `CommunityPolicy.quiet_until`) was climbing: nothing new goes out -
    no rung, no replacement offer, no whistle or referral - until `until`, when the ladder
    goes on from rung `step` (`ladder.resume`). Offers already out can still be accepted;
    staff's own actions work as ever. The requester's group hears that it goes on at
    `local_time` (the community's HH:MM). Not a hold: the request stays open on the
    dashboard and its time to first accept is unchanged (no `RequestReleased` follows)."""

    type: Literal["request_paused"] = "request_paused"
    until: UtcDatetime
    local_time: str = Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$")
    step: int = Field(ge=0)
    reason: Literal["quiet_hours"] = "quiet_hours"


class WhistleBlown(Wire):
    """小区吹哨: staff on duty are offered the request and the community group is told."""

    type: Literal["whistle_blown"] = "whistle_blown"
    step: int
    staff_helper_ids: tuple[str, ...]
    broadcast_community_group: bool = True
    category: Category
    urgency: Urgency
    building_label: str
    open_slots: int
    # Offers made to neighbours (any ring but the whistle's) before it blew, whatever their
    # answer: at 0 nobody at all was found, and the group, told at first that neighbours are
    # being notified ("正在通知…", no arrival promised), is told so. None in events written
    # before it (not known: the earlier text); left out then.
    neighbours_asked: int | None = Field(default=None, ge=0, exclude_if=absent)
    # The number the requester was told to call (`RequestSpec.emergency()`), told again
    # when nobody was found; None when life is not at risk.
    emergency_number: EmergencyNumber | None = Field(default=None, exclude_if=unset)


class ReferredToEmergency(Wire):
    """The ladder's last rung: staff are asked to hand on to `to`. The request stays
    open (neighbours may still come); a staff `ReferRequest` ends it (`RequestReferred`)."""

    type: Literal["referred_to_emergency"] = "referred_to_emergency"
    to: ReferralTarget
    step: int
    # Neighbours assigned to come in person and not done yet (a team leader's members
    # counted): the group then hears that help is on its way, and still to call. Left out
    # of the JSON at 0: records written before it decode, and readers that refuse unknown
    # fields still read the events without anybody coming.
    helpers_coming: int = Field(default=0, ge=0, exclude_if=unset)


# The rungs that call people of the community's list (duty officer, grid worker...).
CalledRung = Literal["whistle", "referral"]


class StaffNotReached(Wire):
    """Every push of a whistle or referral rung to the people of the community's list
    failed for good (the community group is no person): nobody it called was reached.
    The dashboard shows it ("值班人员未联系上"); the ladder moves on (core/staff_commands)."""

    type: Literal["staff_not_reached"] = "staff_not_reached"
    rung: CalledRung
    step: int
    recipients: int  # how many people the rung called
    roles: tuple[str, ...] = ()  # theirs (duty, grid_worker...): roles, never names
    reason: str = ""  # the last push's failure


class HelperWithdrawn(Wire):
    type: Literal["helper_withdrawn"] = "helper_withdrawn"
    offer_id: str
    helper_id: str
    slot: int
    no_show: bool
    # How many neighbours the reopened slot's re-wave asked anew (staff's whistle offers and
    # property's not counted): the group hears "正在联系其他邻居" only when some were. None:
    # not known (no re-wave: referred or paused; an event from before the field), and then
    # left out of the JSON; 0 is written (nobody was asked: the whistle blew again).
    offers_sent: int | None = Field(default=None, ge=0, exclude_if=lambda v: v is None)


class HelperSetOff(Wire):
    """The assigned helper pressed "on my way" (a remote helper: "calling now")."""

    type: Literal["helper_set_off"] = "helper_set_off"
    offer_id: str
    helper_id: str
    slot: int
    remote: bool = False  # guiding by phone: the group hears "calling", not "coming"


class AssignmentCompleted(Wire):
    """The assigned helper pressed "done". `minutes` is what counts as service time:
    the minutes they gave, else the time from accepting to done (`minutes_given` says which)."""

    type: Literal["assignment_completed"] = "assignment_completed"
    offer_id: str
    helper_id: str
    slot: int
    minutes: int
    minutes_given: bool


class RequestResolved(Wire):
    type: Literal["request_resolved"] = "request_resolved"
    by: Party
    helper_ids: tuple[str, ...]
    duration_s: float
    rating: int | None = None
    note: str = ""
    sealed_note: Sealed | None = Field(default=None, exclude_if=unset)  # as typed (sealing.py)


class RequestCancelled(Wire):
    type: Literal["request_cancelled"] = "request_cancelled"
    by: Party
    reason: str = ""
    sealed_note: Sealed | None = Field(default=None, exclude_if=unset)


class RequestReferred(Wire):
    """Staff handed the request on (`ReferRequest`): it ends for neighbours. Handed to
    120/110/119 it keeps the neighbours assigned (they go on helping until the
    professionals arrive); handed to property or a department, they are stood down."""

    type: Literal["request_referred"] = "request_referred"
    to: ReferralTarget
    note: str = ""
    department: str = ""  # when `to` is "department": phones and numbers masked
    sealed_note: Sealed | None = Field(default=None, exclude_if=unset)
    # Kept on a referral to an emergency service: the neighbours assigned to come in person
    # and not done yet (counted as `ReferredToEmergency.helpers_coming`: the group hears
    # help is on its way, and still to call), and every assigned helper not done (each
    # told the request was handed on and to go on if they can). Left out of the JSON while
    # empty: records written before them decode, and keep their bytes.
    helpers_coming: int = Field(default=0, ge=0, exclude_if=unset)
    kept_helper_ids: tuple[str, ...] = Field(default=(), exclude_if=unset)


class RequestExpired(Wire):
    type: Literal["request_expired"] = "request_expired"
    offers_sent: int


RejectReason = Literal[
    "unknown_request",
    "unknown_offer",
    "not_your_offer",
    "covered",  # every slot the helper could fill is taken
    "request_closed",  # resolved, cancelled, referred or expired
    "offer_not_open",
    "not_assigned",
    "already_done",  # the helper pressed "done" already: no withdrawing after that
    "unknown_helper",
    "helper_inactive",  # a helper off the roster changing their own status, hours or offer
    "wrong_community",
    "invalid",
    "already_claimed",  # another staff member took the request on first
    "not_whistled",  # a report-back for a request whose whistle never blew
    "not_a_team_offer",  # several members accepted on an offer made to one person
    "no_open_slot",  # a team called onto a request with no presence slot left open
    "no_team_leader",  # the team has no available leader in the request's community
    "already_offered",  # the team (or its leader) holds an offer on this request already
    "not_a_team_member",  # a leader named someone not an active member of the offered team
    "already_assigned",  # a leader named a member who is (or was) assigned to the request
    "member_declined",  # a leader named a member who declined this request
    "member_unavailable",  # a leader named a member who is away or busy
    # The helper holds an in-person assignment of another request: finish or give it back first.
    "helping_elsewhere",
]


class CommandRejected(Wire):
    """The command was valid but could not take effect; the API shows this outcome."""

    type: Literal["command_rejected"] = "command_rejected"
    command_type: str
    reason: RejectReason
    helper_id: str | None = None
    offer_id: str | None = None
    detail: str = ""


class HelperUpdated(Wire):
    type: Literal["helper_updated"] = "helper_updated"
    helper_id: str
    active: bool
    away: bool
    busy: bool
    # The teams the helper belongs to or leads: the read model's team lists (a leader's
    # checklist of who may go) follow the core's roster, whichever way it was written.
    teams: tuple[str, ...] = Field(default=(), exclude_if=unset)


EventBody = Annotated[
    RequestOpened
    | EmergencyCallAdvised
    | OfferSent
    | OffersSent
    | OfferDeclined
    | OfferExpired
    | OfferFailed
    | HelperAssigned
    | OfferStoodDown
    | OffersStoodDown
    | RingEscalated
    | WhistleBlown
    | ReferredToEmergency
    | StaffNotReached
    | HelperWithdrawn
    | HelperSetOff
    | AssignmentCompleted
    | RequestResolved
    | RequestCancelled
    | RequestReferred
    | RequestExpired
    | CommandRejected
    | HelperUpdated
    | RequestClaimed
    | WhistleReportedBack
    | HelperWelcomed
    | HelperSummarySent
    | HelperWelcomeOutcome
    | RequestHeld
    | RequestReleased
    | RequestPaused,
    Field(discriminator="type"),
]


class Event(Wire):
    v: Literal[1] = EVENT_SCHEMA_VERSION
    event_id: str
    community_id: str
    request_id: str | None = None
    occurred_at: UtcDatetime
    caused_by: str  # the command_id
    body: EventBody


def one_by_one(events: Sequence[Event]) -> list[Event]:
    """`events` with each wave (`offers_sent`) and each batch of stand-downs
    (`offers_stood_down`) as the single events a release before them wrote, one per offer,
    id `{event_id}:{i}` (the id a push for that offer carries either way): for readers of
    such a release during a rolling upgrade (`DISPATCH_WAVE_EVENTS=false`)."""
    out: list[Event] = []
    for e in events:
        body = e.body
        if isinstance(body, OffersSent | OffersStoodDown):
            each = sent_offers(body) if isinstance(body, OffersSent) else stand_downs(body)
            out.extend(
                e.model_copy(update={"event_id": f"{e.event_id}:{i}", "body": one})
                for i, one in enumerate(each)
            )
        else:
            out.append(e)
    return out


def make_event(
    body: EventBody,
    *,
    command_id: str,
    index: int,
    community_id: str,
    request_id: str | None,
    occurred_at: datetime,
) -> Event:
    return Event(
        event_id=event_id_for(command_id, index),
        community_id=community_id,
        request_id=request_id,
        occurred_at=occurred_at,
        caused_by=command_id,
        body=body,
    )
