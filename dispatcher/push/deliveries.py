"""Event → push deliveries: which endpoints, which text, what each message may reveal.

Pure: the worker's notify agent passes in the endpoint registry, lookups into its state and
a maker of offer links, submits what comes out and acknowledges the event when all of it is
done. Endpoints come only from admin configuration; a helper's `channels` name endpoints of
that registry. Contact details go only to a private channel of the helper who accepted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from dispatcher.clock import utcnow
from dispatcher.core.community import CommunityPolicy
from dispatcher.core.context import SearchContext
from dispatcher.core.eligibility import _within_hours
from dispatcher.core.entry import HelperEntry
from dispatcher.core.trusted import builder
from dispatcher.links import answer_path
from dispatcher.push.endpoints import EndpointRegistry
from dispatcher.push.helper_texts import (
    SummarySpec,
    ThankYouSpec,
    WelcomeSpec,
    render_summary,
    render_thank_you,
    render_welcome,
)
from dispatcher.push.messages import (
    BY_KIND,
    AssignmentSpec,
    CancellationSpec,
    CancelReason,
    ReferralSpec,
    ReferredNoticeSpec,
    ReleasedNoticeSpec,
    ResolvedNoticeSpec,
    StandDownSpec,
    Told,
    WhistleSpec,
    offer_message,
    render_assignment,
    render_cancellation,
    render_referral,
    render_referred_notice,
    render_released_notice,
    render_resolved_notice,
    render_stand_down,
    render_whistle,
)
from dispatcher.push.model import SAFE_DELIVERY_ID, Delivery, Mention, PushKind, PushMessage
from dispatcher.push.recipients import (
    REFERRAL_ROLES,
    OwnedEndpoints,
    Recipient,
    referral_recipients,
    serves,
    whistle_recipients,
)
from dispatcher.redact import masked
from dispatcher.sealing import (
    KeyRing,
    Unreadable,
    helper_detail,
    helper_name,
    helper_phone,
    open_assignment,
)
from schemas.commands import ReportDeliveryFailure, ReportStaffNotReached
from schemas.config import Hotline, WhistleRecipient
from schemas.events import (
    AssignmentCompleted,
    CalledRung,
    Event,
    HelperAssigned,
    HelperWithdrawn,
    OfferSent,
    OffersSent,
    OffersStoodDown,
    OfferStoodDown,
    ReferredToEmergency,
    RequestReferred,
    RequestResolved,
    WhistleBlown,
    sent_offers,
    stand_downs,
)
from schemas.helper_messages import (
    NO_PRIVATE_CHANNEL,
    HelperSummarySent,
    HelperWelcomed,
    ReportWelcomeOutcome,
)
from schemas.places import PlacePath
from schemas.records import HelperState, RequestState
from schemas.requests import RequestPrivate
from schemas.vocab import Category, Party, ReferralTarget, Skill, Urgency

_CANCEL_REASONS = {
    "resolved": CancelReason.RESOLVED,
    "referred": CancelReason.REFERRED,
    "expired": CancelReason.EXPIRED,
}
# A cancellation says who cancelled: the request's `closed_by`, in the planner's state (the
# decision is applied before its events are pushed); not known (no longer held), neither.
_CANCELLED_BY = {
    Party.REQUESTER: CancelReason.REQUESTER_CANCELLED,
    Party.STAFF: CancelReason.STAFF_CANCELLED,
}


# Where a referral went, as a helper stood down by it is told: 120/110/119 (or not known)
# stays 专业救援.
_REFERRED_TO = {
    ReferralTarget.PROPERTY: CancelReason.REFERRED_PROPERTY,
    ReferralTarget.DEPARTMENT: CancelReason.REFERRED_DEPARTMENT,
}


def _cancel_reason(
    reason: str, request: RequestState | None, to: ReferralTarget | None = None
) -> CancelReason:
    if reason == "referred":
        # The event's target; one written before the field: the request's, if still held.
        target = to if to is not None else request.referred_to if request else None
        if target is None:
            return CancelReason.REFERRED
        return _REFERRED_TO.get(target, CancelReason.REFERRED)
    if reason != "cancelled":
        return _CANCEL_REASONS.get(reason, CancelReason.EXPIRED)
    if request is None or request.closed_by is None:
        return CancelReason.CANCELLED
    return _CANCELLED_BY.get(request.closed_by, CancelReason.CANCELLED)


class OfferLinks(Protocol):
    """Absolute accept and decline URLs for one offer to one helper (dispatcher.links)."""

    def __call__(
        self,
        *,
        request_id: str,
        offer_id: str,
        helper_id: str,
        community_id: str,
        expires_at: datetime,
        platform_user_id: str | None = None,
        again: int = 0,
    ) -> dict[str, str]: ...


class RecipientLinks(Protocol):
    """Absolute claim and report-back URLs for one whistle/referral recipient
    (dispatcher.recipient_links): each acts as that recipient, once."""

    def __call__(
        self, *, request_id: str, community_id: str, recipient: str, role: str, now: datetime
    ) -> dict[str, str]: ...


def _no_recipient_links(
    *, request_id: str, community_id: str, recipient: str, role: str, now: datetime
) -> dict[str, str]:
    return {}


STATUS_LINK_GRACE = timedelta(days=1)
# An offer pushed after its own time to answer (its request decided late, a push held back):
# its links still work (the core takes a late answer while a slot is free), so it asks
# plainly instead of "请在N分钟内回复" counted from a time long past.


def _to_recipient(event: Event, who: Recipient, message: PushMessage) -> Delivery:
    """A whistle or referral push to one recipient of the community's list."""
    return Delivery(
        delivery_id=_per_recipient(event, who),
        endpoint=who.endpoint,
        kind=PushKind.WHISTLE,
        message=message,
        recipient=who.recipient_id,
        data={"request_id": event.request_id or "", "role": who.role},
    )


def _per_recipient(event: Event, who: Recipient) -> str:
    """One delivery id per recipient of an event (the same on every retry), so the
    deliverer's dedupe and the notify agent's ack count each recipient; the community
    group keeps the event id it always had."""
    if who.role == "group":
        return event.event_id
    tag = hashlib.sha256(who.recipient_id.encode()).hexdigest()[:16]  # names may be 城管
    return f"{event.event_id}:{tag}"


# An offer's Delivery, unvalidated: every value but the event id is built here of its
# field's type, and `_offer` checks that one (tests/unit/test_push_trusted.py).
_delivery = builder(Delivery)


def _told(request: RequestState | None) -> Told:
    """The request's own say on whom to call (a red flag, a named number), so a push's
    "如有生命危险，请立即拨打…" names the number its requester was told; not held: the kind's."""
    if request is None:
        return BY_KIND
    return (request.spec.life_threatening, request.spec.emergency_number)


def _critical(request: RequestState | None) -> bool:
    """The request is life-threatening: its pushes go ahead of a lane's backlog
    (`Delivery.life_threatening`); not held: not known to be."""
    return request is not None and request.spec.is_life_threatening()


def _asked_in_group(request: RequestState | None) -> bool:
    """The request came from a chat group (`source.group_id`: a group bot's message), where
    a remote helper can reach a requester who left no phone; not held: not known, so no
    group is named."""
    source = request.spec.source if request is not None else None
    return source is not None and bool(source.group_id)


def _again(request: RequestState, offer_id: str) -> int:
    """How often the offer was asked again (`OfferRecord.again`): its links answer that ask."""
    return next((o.again for o in request.offers if o.offer_id == offer_id), 0)


@lru_cache(maxsize=256)  # a wave's offers ask for the same skills
def _known_skills(skills: tuple[str, ...]) -> tuple[Skill, ...]:
    """The skills of an offer this release knows (a newer core may ask for more)."""
    return tuple(Skill(s) for s in skills if s in Skill._value2member_map_)


def community_group_endpoint(community_id: str) -> str:
    """The registry name of a community's group robot, for the whistle broadcast."""
    return f"community-{community_id}"


@dataclass(frozen=True)
class StaffCall:
    """A whistle's or referral's pushes to people (the community group is none): should
    every one of them fail for good, `report` tells the core nobody was reached. None at
    all (`delivery_ids` empty: nobody on the community's list, `recipients` 0): reported at
    once, so the ladder does not wait the rung out on a call nobody got."""

    event_id: str
    community_id: str
    delivery_ids: frozenset[str]
    report: ReportStaffNotReached


@dataclass(frozen=True)
class Planned:
    """What one event causes: deliveries to submit, offers nobody can be reached for (the
    core should move on at once) and warnings to log."""

    deliveries: list[Delivery] = field(default_factory=list)
    undeliverable: list[ReportDeliveryFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Welcomes that reach nobody: reported back so the helper is not marked welcomed.
    unwelcomed: list[ReportWelcomeOutcome] = field(default_factory=list)
    # A whistle's or referral's call to people, reported should it reach none of them.
    call: StaffCall | None = None


# Why a call with nobody on the community's list is reported (ReportStaffNotReached.reason).
NOBODY_TO_CALL = "nobody to call: no duty or grid worker on the community's list"
# ... and when the list names contacts the whistle cannot reach (audit s43 F2: their endpoint
# was removed or serves another community, in a configuration written before that was refused).
CONTACTS_UNREACHABLE = (
    "nobody to call: the community's configured contacts are unreachable "
    "(their push endpoint is gone or serves another community)"
)


def _staff_call(
    event: Event,
    rung: CalledRung,
    step: int,
    deliveries: list[Delivery],
    *,
    offered: bool = False,
    unreachable: bool = False,
) -> StaffCall | None:
    """The call a whistle or referral makes: its deliveries to people, not to the group.
    None when only staff on duty were called, by offers (`offered`: the whistle's
    `staff_helper_ids`): their answers move the ladder. Nobody at all: a call of none,
    reported as one nobody answered (before, the ladder waited the whole rung while the
    same staff configured but unreachable made it climb at once)."""
    people = [d for d in deliveries if d.data.get("role") != "group"]
    if not people and offered:
        return None
    report = ReportStaffNotReached(
        request_id=event.request_id or "",
        rung=rung,
        step=step,
        called_at=event.occurred_at,
        recipients=len(people),
        roles=tuple(sorted({d.data["role"] for d in people})),
        reason="" if people else CONTACTS_UNREACHABLE if unreachable else NOBODY_TO_CALL,
    )
    return StaffCall(
        event.event_id, event.community_id, frozenset(d.delivery_id for d in people), report
    )


def _unwelcomed(body: object, reason: str) -> list[ReportWelcomeOutcome]:
    if not isinstance(body, HelperWelcomed):
        return []
    return [ReportWelcomeOutcome(helper_id=body.helper_id, sent=False, reason=reason)]


# Helpers whose login is kept opened (~400 B each): a worker's helpers, and those removed
# since (their entries are never read again; a full map starts afresh).
_PLATFORM_IDS_MAX = 100_000


@dataclass
class DeliveryPlanner:
    registry: EndpointRegistry
    helper: Callable[[str], HelperState | None]
    request: Callable[[str], RequestState | None]
    offer_links: OfferLinks
    keys: KeyRing  # opens the sealed contact of an assignment and the helpers' phones
    public_base_url: str
    default_endpoint: str | None = None
    recipient_links: RecipientLinks = _no_recipient_links
    # (helper id, community id, now) → the helper's personal page (dispatcher.links.helper_link)
    personal_link: Callable[[str, str, datetime], str] | None = None
    # The community's department contacts (live configuration: ConfigView.whistle_recipients).
    whistle_recipients: Callable[[str], Sequence[WhistleRecipient]] = lambda community_id: ()
    # The community's configured hotlines (live configuration: CommunityConfig.hotlines).
    hotlines: Callable[[str], Sequence[Hotline]] = lambda community_id: ()
    # The wall clock (the push's time: an offer's "请在N分钟内回复" counts from it).
    now: Callable[[], datetime] = utcnow
    # community id → its policy (zone, quiet hours) in the worker's state: helpers' do-not-
    # disturb windows are read on its clock, as the core's eligibility reads them (None:
    # each helper's own offset).
    community: Callable[[str], CommunityPolicy | None] = lambda community_id: None
    # endpoint name → the community that owns it (None: district-wide); by default the live
    # registry's own record (ConfigView's), else every endpoint is district-wide (env only).
    endpoint_owner: Callable[[str], str | None] | None = None
    # helper id → (key id, detail box, the platform user id it holds): each box opened once,
    # not for every offer (an AES-GCM open and a validation). `keys` is fixed for the
    # planner's life, so a box opens to the same detail every time; a re-sealed profile (a
    # new box) replaces its helper's entry.
    _platform_ids: dict[str, tuple[str, str, str | None]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.endpoint_owner is None and isinstance(self.registry, OwnedEndpoints):
            self.endpoint_owner = self.registry.owner

    def _serves(self, endpoint: str, community_id: str) -> bool:
        """An endpoint that exists and may carry this community's messages: one another
        community's staff named after it (community-B.duty.x, `default`) never does."""
        if endpoint not in self.registry:
            return False
        owner = None if self.endpoint_owner is None else self.endpoint_owner(endpoint)
        return serves(endpoint, owner, community_id)

    def plan(self, event: Event) -> Planned:
        body = event.body
        if isinstance(body, OfferSent):
            planned = Planned()
            self._offer(planned, event, body, event.event_id, self._offer_times(event))
            return planned
        if isinstance(body, OffersSent):
            # A push each, with an id of its own derived from the event's (stable on replay),
            # planned into one `Planned` (not one per offer, then flattened).
            planned = Planned()
            times = self._offer_times(event)
            for i, one in enumerate(sent_offers(body)):
                self._offer(planned, event, one, f"{event.event_id}:{i}", times)
            return planned
        if isinstance(body, HelperAssigned):
            return self._assignment(event, body)
        if isinstance(body, OfferStoodDown | OffersStoodDown):
            if body.reason == "helping_elsewhere":
                # They just took another neighbour's in-person need and are on their way:
                # a "no need to come" for each other offer would only interrupt them (its
                # link says why if pressed: `helping_elsewhere`).
                return Planned()
            # A push each, with an id of its own derived from the event's (stable on replay).
            many = isinstance(body, OffersStoodDown)
            asleep = self._asleep(event)
            going = self._going(event) if body.reason == "covered" else frozenset()
            return Planned(
                [
                    d
                    for i, one in enumerate(stand_downs(body))
                    if one.helper_id not in going and not asleep(one)
                    for d in self._stand_down(
                        event, one, f"{event.event_id}:{i}" if many else event.event_id
                    )
                ]
            )
        if isinstance(body, WhistleBlown):
            deliveries = self._whistle(event, body)
            offered = bool(body.staff_helper_ids)
            lost = self._unreachable(event, "whistle")
            call = _staff_call(
                event, "whistle", body.step, deliveries, offered=offered, unreachable=bool(lost)
            )
            return Planned(deliveries, warnings=lost, call=call)
        if isinstance(body, ReferredToEmergency):
            return self._referral(event, body)
        if isinstance(body, RequestResolved):
            return Planned(self._resolved(event, body))
        if isinstance(body, RequestReferred):
            return Planned(self._referred(event, body))
        if isinstance(body, HelperWithdrawn) and body.no_show:
            return Planned(self._released(event, body))
        if isinstance(body, HelperWelcomed | AssignmentCompleted | HelperSummarySent):
            return self._own_message(event, body)
        return Planned()

    # ---------------------------------------------------------------- who, where
    def _endpoints_for(
        self, helper: HelperState | None, community_id: str, *, private: bool
    ) -> list[str]:
        names = [c.split(":", 1)[-1] for c in (helper.profile.channels if helper else ())]
        if not names and self.default_endpoint:
            names = [self.default_endpoint]
        usable = [n for n in names if self._serves(n, community_id)]
        if private:  # contact details never go to a group robot
            usable = [n for n in usable if not self.registry.get(n).is_group]
        return usable[:1]

    def _mentions(self, helper: HelperState | None, endpoint: str) -> tuple[Mention, ...]:
        if helper is None or not self.registry.get(endpoint).is_group:
            return ()
        # WeCom @-mentions by mobile (its API's list, never the text); DingTalk and Feishu
        # by the helper's platform user id: a phone is never written into a group's text.
        phone = helper_phone(self.keys, helper.profile)
        user_id = self._platform_user_id(helper)
        return (Mention(mobile=phone, open_id=user_id),) if phone or user_id else ()

    def _platform_user_id(self, helper: HelperState | None) -> str | None:
        """Opened for the helper's own links only: they then need that platform login."""
        if helper is None:
            return None
        profile = helper.profile
        sealed = profile.sealed_detail
        if sealed is None:  # a profile from before 12.7: in the clear
            return profile.platform_user_id
        known = self._platform_ids.get(profile.helper_id)
        if known is not None and known[0] == sealed.kid and known[1] == sealed.box:
            return known[2]
        if len(self._platform_ids) >= _PLATFORM_IDS_MAX:
            self._platform_ids.clear()  # helpers come and go: start again, rarely
        opened = helper_detail(self.keys, profile).platform_user_id
        self._platform_ids[profile.helper_id] = (sealed.kid, sealed.box, opened)
        return opened

    def _answer_url(self, community_id: str) -> str:
        return self.public_base_url.rstrip("/") + answer_path(community_id)

    def _category_urgency(self, request_id: str | None) -> tuple[Category, Urgency]:
        r = self.request(request_id or "")
        return (r.spec.category, r.spec.urgency) if r else (Category.OTHER, Urgency.NORMAL)

    # ---------------------------------------------------------------- per event
    def _offer_times(self, event: Event) -> tuple[datetime, datetime | None]:
        """An offer event's push time (now, never before the decision) and its request's
        end (None: the request is not held here)."""
        request = self.request(event.request_id or "")
        return max(event.occurred_at, self.now()), None if request is None else request.ends_at

    def _offer(
        self,
        planned: Planned,
        event: Event,
        body: OfferSent,
        delivery_id: str,
        times: tuple[datetime, datetime | None],
    ) -> None:
        """The offer's deliveries (or its report that nobody can be reached), into `planned`.
        Its links work until the request's end (as the assignment's status link does): the
        core takes an answer after the offer's own time while the request is open and a slot
        free, so the link does too (signed until the offer's expiry, a push decided late -
        after a backlog - arrived with links already dead). Its "reply within" counts from
        the push's time, not the decision's."""
        helper = self.helper(body.helper_id)
        endpoints = self._endpoints_for(helper, event.community_id, private=False)
        request_id = event.request_id or ""
        if not endpoints:
            # Nowhere to reach this helper: tell the core now so it moves on at once.
            failed = ReportDeliveryFailure(
                request_id=request_id,
                offer_id=body.offer_id,
                helper_id=body.helper_id,
                reason="no usable channel",
            )
            planned.undeliverable.append(failed)
            return
        pushed_at, ends_at = times
        links = self.offer_links(
            request_id=request_id,
            offer_id=body.offer_id,
            helper_id=body.helper_id,
            community_id=event.community_id,
            expires_at=body.expires_at if ends_at is None else max(body.expires_at, ends_at),
            platform_user_id=self._platform_user_id(helper),
            again=body.again,  # the links answer this ask (api/offer_outcomes.py)
        )
        left_s = (body.expires_at - pushed_at).total_seconds()
        minutes = max(1, int(left_s // 60)) if left_s > 0 else 0  # 0: 请尽快回复
        # The event id comes off the wire: the Delivery is built unvalidated only when it
        # passes the check validation makes (else validated, and rejected as ever).
        safe_id = SAFE_DELIVERY_ID.fullmatch(delivery_id)
        build: Callable[..., Delivery] = _delivery if safe_id else Delivery
        # Asked again on a reopened slot after "已有邻居接手…无需再来": the core's event says
        # so (`WaveOffer.again`); an event from before session 41 reads as a first offer.
        again = body.again > 0
        request = self.request(request_id)
        told, critical = _told(request), _critical(request)
        deliveries = planned.deliveries
        for ep in endpoints:
            group = self.registry.get(ep).is_group
            # What a group sees, every member sees: no per-helper link there (issue 12), only
            # the answer page a helper's bound phone opens; private channels keep their links.
            answer = self._answer_url(event.community_id) if group else None
            # `render_offer(OfferSpec(...))` without the spec object (one per offer).
            message = offer_message(
                category=body.category,
                urgency=body.urgency,
                compound=None,  # the label carries it: "阳光花园 3号楼" (places.py)
                building=body.building_label,
                helpers_needed=body.helpers_needed,
                skills=_known_skills(body.skills),
                team=(body.team_id, body.team_size) if body.team_id is not None else None,
                reply_within_minutes=minutes,
                accept_url=links["accept"],
                decline_url=links["decline"],
                answer_url=answer,
                again=again,
                told=told,
                remote=body.remote,
            )
            data = {
                "request_id": request_id,
                "offer_id": body.offer_id,
                "helper_id": body.helper_id,
                "community_id": event.community_id,
            }
            if not group:
                data |= {"accept_url": links["accept"], "decline_url": links["decline"]}
            deliveries.append(
                build(
                    delivery_id=delivery_id,
                    endpoint=ep,
                    kind=PushKind.OFFER,
                    message=message,
                    mentions=self._mentions(helper, ep),
                    recipient=body.helper_id,
                    batch_key=f"{request_id}:{body.step}",
                    data=data,
                    life_threatening=critical,
                )
            )

    def _assignment(self, event: Event, body: HelperAssigned) -> Planned:
        helper = self.helper(body.helper_id)
        endpoints = self._endpoints_for(helper, event.community_id, private=True)
        if not endpoints:
            return Planned(warnings=[f"assignment {body.offer_id}: helper has no private channel"])
        category, urgency = self._category_urgency(event.request_id)
        request = self.request(event.request_id or "")
        # The helper's own page (the accept link, valid past the request's end so "done"
        # can come late); pressing its buttons also needs the accepting phone or login.
        status_url = (
            self.offer_links(
                request_id=request.request_id,
                offer_id=body.offer_id,
                helper_id=body.helper_id,
                community_id=event.community_id,
                expires_at=request.ends_at + STATUS_LINK_GRACE,
                platform_user_id=self._platform_user_id(helper),
                again=_again(request, body.offer_id),
            )["accept"]
            if request is not None
            else None
        )
        warnings: list[str] = []
        try:
            private = open_assignment(self.keys, event.request_id or "", body)
        except Unreadable as exc:  # a retired key: the page and the call still work
            private = RequestPrivate()
            warnings.append(f"assignment {body.offer_id}: contact not shown ({exc})")
        contact = private.contact
        place = body.place
        exact = contact.address or " ".join(
            str(p)
            for p in (
                place.compound_name,
                place.building_name or place.building_id,
                f"{private.unit}单元" if private.unit else None,
                f"{private.floor}楼" if private.floor is not None else None,
            )
            if p
        )
        message = render_assignment(
            AssignmentSpec(
                category=category,
                urgency=urgency,
                exact_place=exact or "见求助信息",
                contact_phone=contact.phone or "（未留电话）",
                has_phone=bool(contact.phone),
                in_group=_asked_in_group(request),
                contact_name=contact.name,
                status_url=status_url,
                remote=body.remote,
                told=_told(request),
                **self._team_lines(body, event.community_id),
            )
        )
        return Planned(
            [
                Delivery(
                    delivery_id=event.event_id,
                    endpoint=ep,
                    kind=PushKind.ASSIGNMENT,
                    message=message,
                    recipient=body.helper_id,
                    data={"request_id": event.request_id or "", "offer_id": body.offer_id},
                    life_threatening=_critical(request),
                )
                for ep in endpoints
            ],
            warnings=warnings,
        )

    def _name(self, helper_id: str) -> str:
        helper = self.helper(helper_id)  # names travel sealed (12.7): opened for this push only
        return (helper_name(self.keys, helper.profile) if helper else "") or helper_id

    def _team_lines(self, body: HelperAssigned, community_id: str) -> dict[str, Any]:
        """A member hears who signed them up; the leader, who goes and whom no private
        message reaches (listed so the leader tells them)."""
        if body.signed_up_by is not None:
            return {"signed_up_by": self._name(body.signed_up_by)}
        if not body.member_ids:
            return {}
        unreached = [
            m
            for m in body.member_ids
            if not self._endpoints_for(self.helper(m), community_id, private=True)
        ]
        return {
            "team_members": tuple(self._name(m) for m in body.member_ids if m not in unreached),
            "team_unreached": tuple(self._name(m) for m in unreached),
        }

    def _own_message(
        self, event: Event, body: HelperWelcomed | AssignmentCompleted | HelperSummarySent
    ) -> Planned:
        """The welcome, thank-you and summary: to the helper's private channel only."""
        helper = self.helper(body.helper_id)
        endpoints = self._endpoints_for(helper, event.community_id, private=True)
        if not endpoints:
            return Planned(
                warnings=[f"{body.type} {event.event_id}: {NO_PRIVATE_CHANNEL}"],
                unwelcomed=_unwelcomed(body, NO_PRIVATE_CHANNEL),
            )
        data = {"helper_id": body.helper_id, "community_id": event.community_id}
        if isinstance(body, HelperWelcomed):
            if self.personal_link is None:
                return Planned(
                    warnings=[f"welcome {event.event_id}: no personal links here"],
                    unwelcomed=_unwelcomed(body, "no personal links here"),
                )
            url = self.personal_link(body.helper_id, event.community_id, event.occurred_at)
            name = helper_name(self.keys, helper.profile) if helper else None
            welcome = WelcomeSpec(url, name, self._hotlines(event.community_id))
            kind, message = PushKind.WELCOME, render_welcome(welcome)
            data["personal_url"] = url
        elif isinstance(body, AssignmentCompleted):
            category, _ = self._category_urgency(event.request_id)
            kind, message = (
                PushKind.THANK_YOU,
                render_thank_you(ThankYouSpec(category, body.minutes)),
            )
            data |= {"request_id": event.request_id or "", "minutes": str(body.minutes)}
        else:
            kind = PushKind.SUMMARY
            message = render_summary(SummarySpec(body.month, body.requests_helped, body.minutes))
            data |= {"month": body.month, "minutes": str(body.minutes)}
        return Planned(
            [
                Delivery(
                    delivery_id=event.event_id,
                    endpoint=ep,
                    kind=kind,
                    message=message,
                    recipient=body.helper_id,
                    data=data,
                )
                for ep in endpoints
            ]
        )

    def _going(self, event: Event) -> frozenset[str]:
        """Who holds an active assignment of the event's request, in the planner's state
        (the decision applied): a "covered" stand-down is no news to them. A member signed
        up by their leader has their own open offer stood down as covered in the same
        decision, and was pushed 无需再来 beside 请尽快前往."""
        r = self.request(event.request_id or "")
        if r is None:
            return frozenset()
        return frozenset(a.helper_id for a in r.assignments if a.active)

    def _asleep(self, event: Event) -> Callable[[OfferStoodDown], bool]:
        """Whether a stand-down or cancellation of the event's request goes unpushed: to a
        helper who never took it (nothing for them to do), inside their do-not-disturb at
        the event's time under a plan that keeps it - read as the core's eligibility reads
        it (the community's clock, the helper's own override). A critical plan, which asked
        them through it, tells them as before; a helper on the way is always told (before,
        an urgent request's neighbour asked at 21:50 was pushed "无需再来" at 22:10, inside
        their 22:00-07:00 do-not-disturb)."""
        r = self.request(event.request_id or "")
        if r is None or not r.plan.respect_do_not_disturb:
            return lambda body: False
        ctx = SearchContext.for_request(r, event.occurred_at)
        ctx.clock.on_community(self.community(event.community_id))
        going = {a.helper_id for a in r.assignments if a.active}

        def asleep(body: OfferStoodDown) -> bool:
            helper = self.helper(body.helper_id)
            if body.was_assigned or body.helper_id in going or helper is None:
                return False
            if helper.profile.do_not_disturb is None:
                return False
            entry = HelperEntry.from_state(helper)
            entry.availability = ()  # the hours they may be asked in, not told in
            weekday, local_time, _ = ctx.clock.of_helper(entry.utc_offset_minutes)
            return not _within_hours(entry, ctx, weekday, local_time)

        return asleep

    def _stand_down(self, event: Event, body: OfferStoodDown, delivery_id: str) -> list[Delivery]:
        helper = self.helper(body.helper_id)
        endpoints = self._endpoints_for(helper, event.community_id, private=False)
        r = self.request(event.request_id or "")
        category = r.spec.category if r else Category.OTHER
        building = r.spec.place.building_label() if r else None
        if body.reason == "covered":
            kind, message = (
                PushKind.STAND_DOWN,
                render_stand_down(StandDownSpec(category=category, building=building)),
            )
        else:
            kind, message = (
                PushKind.CANCELLATION,
                render_cancellation(
                    CancellationSpec(
                        category=category,
                        building=building,
                        reason=_cancel_reason(body.reason, r, body.to),
                    )
                ),
            )
        return [
            Delivery(
                delivery_id=delivery_id,
                endpoint=ep,
                kind=kind,
                message=message,
                mentions=self._mentions(helper, ep),
                recipient=body.helper_id,
                data={"request_id": event.request_id or "", "offer_id": body.offer_id},
                life_threatening=_critical(r),
            )
            for ep in endpoints
        ]

    def _released(self, event: Event, body: HelperWithdrawn) -> list[Delivery]:
        """A helper staff released as not coming (`no_show`: only staff send it; a helper's
        own 去不了了 is no no-show, and they know): told they no longer hold the request,
        since one still on the way would arrive to find it given to someone else. Kind
        cancellation: it tells of the end of their part (not live-only: said after the
        request closed too); the offer they accepted in its data."""
        helper = self.helper(body.helper_id)
        r = self.request(event.request_id or "")
        message = render_released_notice(
            ReleasedNoticeSpec(
                category=r.spec.category if r else Category.OTHER,
                building=r.spec.place.building_label() if r else None,
                kept=r is not None and r.terminal,
            )
        )
        return [
            Delivery(
                delivery_id=event.event_id,
                endpoint=ep,
                kind=PushKind.CANCELLATION,
                message=message,
                mentions=self._mentions(helper, ep),
                recipient=body.helper_id,
                data={"request_id": event.request_id or "", "offer_id": body.offer_id},
                life_threatening=_critical(r),
            )
            for ep in self._endpoints_for(helper, event.community_id, private=False)
        ]

    def _resolved(self, event: Event, body: RequestResolved) -> list[Delivery]:
        """The helpers still assigned and not done when the request closed as resolved: the
        core stands down open offers only (their assignments stand: a "done" pressed later
        still counts), so without this one on the way hears nothing."""
        return self._to_assigned(
            event,
            body.helper_ids,
            lambda category, building: render_resolved_notice(
                ResolvedNoticeSpec(category=category, building=building, by=body.by.value)
            ),
        )

    def _referred(self, event: Event, body: RequestReferred) -> list[Delivery]:
        """The helpers staff kept assigned when they referred the request to 120/110/119
        (`kept_helper_ids`; none on any other referral: those were stood down, "无需再来"):
        told it was handed on and to go on if they can until the professionals arrive, and
        to press "done" (it counts: their assignment stands)."""
        return self._to_assigned(
            event,
            body.kept_helper_ids,
            lambda category, building: render_referred_notice(
                ReferredNoticeSpec(category=category, building=building, to=body.to.value)
            ),
        )

    def _to_assigned(
        self,
        event: Event,
        helper_ids: Sequence[str],
        render: Callable[[Category, str | None], PushMessage],
    ) -> list[Delivery]:
        """A closing's notice to the helpers it left assigned (`helper_ids`, as the core
        named them): kind cancellation, since it tells of the end (sent after the request
        closed, where a live-only push would be withdrawn), one delivery id per helper
        ({event_id}:{i}, stable on replay), the offer they accepted in its data. Those who
        pressed "done" are not told (the state is read after the decision: a "done" since,
        too); planned without the request (pruned), each named helper is."""
        if not helper_ids:
            return []
        r = self.request(event.request_id or "")
        held = {a.helper_id: a for a in r.assignments if a.active} if r is not None else {}
        category = r.spec.category if r else Category.OTHER
        building = r.spec.place.building_label() if r else None
        message = render(category, building)
        deliveries: list[Delivery] = []
        for i, helper_id in enumerate(helper_ids):  # an id each, stable on replay
            a = held.get(helper_id)
            if r is not None and (a is None or a.done_at is not None):
                continue
            helper = self.helper(helper_id)
            deliveries.extend(
                Delivery(
                    delivery_id=f"{event.event_id}:{i}",
                    endpoint=ep,
                    kind=PushKind.CANCELLATION,
                    message=message,
                    mentions=self._mentions(helper, ep),
                    recipient=helper_id,
                    data={
                        "request_id": event.request_id or "",
                        "offer_id": a.offer_id if a is not None else "",
                    },
                    life_threatening=_critical(r),
                )
                for ep in self._endpoints_for(helper, event.community_id, private=False)
            )
        return deliveries

    def _recipients(self, community_id: str, place: PlacePath | None = None) -> list[Recipient]:
        """The community's whistle list, the one place it is read: the endpoints named by the
        convention (dispatcher/push/recipients.py), then the live configuration's contacts
        whose area covers the request's place; only endpoints that exist and serve it."""
        found = whistle_recipients((e.name for e in self.registry), community_id)
        for c in self.whistle_recipients(community_id):
            if place is None or c.covers(place.grid_id, place.compound_id, place.building_id):
                found.append(Recipient(f"{c.role}.{c.name}", str(c.role), c.endpoint, c.name))
        unique = {w.recipient_id: w for w in found if self._serves(w.endpoint, community_id)}
        return list(unique.values())

    def _unreachable(
        self, event: Event, rung: str, roles: tuple[str, ...] | None = None
    ) -> list[str]:
        """A warning for each configured contact covering the request's place that
        `_recipients` drops (its endpoint gone or another community's): said, not silent.
        Only contacts of `roles` (None: any), the ones the rung would have called. Role and
        name with every digit masked: a name stored before names were checked may hold a
        phone, and this is a log line."""
        r = self.request(event.request_id or "")
        place = r.spec.place if r else None
        return [
            f"{rung} {event.request_id}: contact {c.role.value} {masked(c.name)!r} unreachable: "
            f"endpoint {c.endpoint!r} is gone or serves another community"
            for c in self.whistle_recipients(event.community_id)
            if (roles is None or c.role.value in roles)
            and (place is None or c.covers(place.grid_id, place.compound_id, place.building_id))
            and not self._serves(c.endpoint, event.community_id)
        ]

    @property
    def _dashboard_url(self) -> str:
        return f"{self.public_base_url.rstrip('/')}/dashboard"

    def _links(self, event: Event, r: Recipient) -> dict[str, str]:
        """The recipient's own claim and report-back links; none for a group robot, whatever
        the role (a 网格群, or a property or duty endpoint that is a robot): anyone who reads
        the group could press them first and act as the recipient. The group's message
        sends staff to the dashboard (their own session) instead."""
        if self.registry.get(r.endpoint).is_group:
            return {}
        return self.recipient_links(
            request_id=event.request_id or "",
            community_id=event.community_id,
            recipient=r.recipient_id,
            role=r.role,
            now=event.occurred_at,
        )

    def _whistle(self, event: Event, body: WhistleBlown) -> list[Delivery]:
        """To each recipient of the community's whistle list (the group robot only when the
        whistle is broadcast), with their own claim and report-back links; the dashboard
        link where no recipient links are made (a group robot, `_links`)."""
        r = self.request(event.request_id or "")
        place = r.spec.place if r else None
        everyone = self._recipients(event.community_id, place)
        if not body.broadcast_community_group:
            everyone = [w for w in everyone if w.role != "group"]
        if not everyone:
            return []
        waiting = int((event.occurred_at - r.created_at).total_seconds() // 60) if r else 0
        deliveries = []
        for who in everyone:
            links = self._links(event, who)
            message = render_whistle(
                WhistleSpec(
                    category=body.category,
                    urgency=body.urgency,
                    building=body.building_label,
                    waiting_minutes=waiting,
                    helpers_missing=body.open_slots,
                    claim_url=links.get("claim") or self._dashboard_url,
                    report_url=links.get("report"),
                    called_as=None if who.role == "group" else who.label,
                    told=_told(r),
                )
            )
            deliveries.append(_to_recipient(event, who, message))
        return deliveries

    def _hotlines(self, community_id: str) -> tuple[str, ...]:
        return tuple(f"{h.label} {h.number}" for h in self.hotlines(community_id))

    def _referral(self, event: Event, body: ReferredToEmergency) -> Planned:
        """The last rung reaches a person (the duty officer, else the grid worker), with a
        claim link bound to them (the dashboard link if their endpoint is a group robot);
        the dashboard shows it too."""
        r = self.request(event.request_id or "")
        people = referral_recipients(
            self._recipients(event.community_id, r.spec.place if r else None)
        )
        # Only contacts the referral would have called count: a lost duty officer, or a
        # lost grid worker when no duty officer is reached (a property contact never is).
        called = REFERRAL_ROLES[: REFERRAL_ROLES.index(people[0].role) + 1 if people else None]
        lost = self._unreachable(event, "referral", called)
        if not people:
            return Planned(
                warnings=[f"referral {event.request_id}: no duty or grid worker", *lost],
                call=_staff_call(event, "referral", body.step, [], unreachable=bool(lost)),
            )
        deliveries = []
        for who in people:
            links = self._links(event, who)
            message = render_referral(
                ReferralSpec(
                    category=r.spec.category if r else Category.OTHER,
                    urgency=r.spec.urgency if r else Urgency.NORMAL,
                    building=r.spec.place.building_label() if r else None,
                    refer_to=body.to.value,
                    claim_url=links.get("claim") or self._dashboard_url,
                    hotlines=self._hotlines(event.community_id),
                    told=_told(r),
                )
            )
            deliveries.append(_to_recipient(event, who, message))
        call = _staff_call(event, "referral", body.step, deliveries)
        return Planned(deliveries, warnings=lost, call=call)
