"""Event → push deliveries: which endpoints, which text, what each message may reveal.

Pure: the worker's notify agent passes in the endpoint registry, lookups into its state and
a maker of offer links, submits what comes out and acknowledges the event when all of it is
done. Endpoints come only from admin configuration; a helper's `channels` name endpoints of
that registry. Contact details go only to a private channel of the helper who accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from dispatcher.links import ANSWER_PATH
from dispatcher.push.endpoints import EndpointRegistry
from dispatcher.push.messages import (
    AssignmentSpec,
    CancellationSpec,
    CancelReason,
    OfferSpec,
    StandDownSpec,
    WhistleSpec,
    render_assignment,
    render_cancellation,
    render_offer,
    render_stand_down,
    render_whistle,
)
from dispatcher.push.model import Delivery, Mention, PushKind, PushMessage
from schemas.commands import ReportDeliveryFailure
from schemas.config import WhistleRecipient
from schemas.events import Event, HelperAssigned, OfferSent, OfferStoodDown, WhistleBlown
from schemas.records import HelperState, RequestState
from schemas.vocab import Category, Skill, Urgency

_CANCEL_REASONS = {
    "cancelled": CancelReason.REQUESTER_CANCELLED,
    "resolved": CancelReason.RESOLVED,
    "referred": CancelReason.REFERRED,
    "expired": CancelReason.EXPIRED,
}


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
    ) -> dict[str, str]: ...


STATUS_LINK_GRACE = timedelta(days=1)


def community_group_endpoint(community_id: str) -> str:
    """The registry name of a community's group robot, for the whistle broadcast."""
    return f"community-{community_id}"


@dataclass(frozen=True)
class Planned:
    """What one event causes: deliveries to submit, offers nobody can be reached for (the
    core should move on at once) and warnings to log."""

    deliveries: list[Delivery] = field(default_factory=list)
    undeliverable: list[ReportDeliveryFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class DeliveryPlanner:
    registry: EndpointRegistry
    helper: Callable[[str], HelperState | None]
    request: Callable[[str], RequestState | None]
    offer_links: OfferLinks
    public_base_url: str
    default_endpoint: str | None = None
    # The community's department contacts (live configuration: ConfigView.whistle_recipients).
    whistle_recipients: Callable[[str], Sequence[WhistleRecipient]] = lambda community_id: ()

    def plan(self, event: Event) -> Planned:
        body = event.body
        if isinstance(body, OfferSent):
            return self._offer(event, body)
        if isinstance(body, HelperAssigned):
            return self._assignment(event, body)
        if isinstance(body, OfferStoodDown):
            return Planned(self._stand_down(event, body))
        if isinstance(body, WhistleBlown):
            return Planned(self._whistle(event, body))
        return Planned()

    # ---------------------------------------------------------------- who, where
    def _endpoints_for(self, helper: HelperState | None, *, private: bool) -> list[str]:
        names = [c.split(":", 1)[-1] for c in (helper.profile.channels if helper else ())]
        if not names and self.default_endpoint:
            names = [self.default_endpoint]
        usable = [n for n in names if n in self.registry]
        if private:  # contact details never go to a group robot
            usable = [n for n in usable if not self.registry.get(n).is_group]
        return usable[:1]

    def _mentions(self, helper: HelperState | None, endpoint: str) -> tuple[Mention, ...]:
        if helper and helper.profile.phone and self.registry.get(endpoint).is_group:
            return (Mention(mobile=helper.profile.phone),)
        return ()

    def _category_urgency(self, request_id: str | None) -> tuple[Category, Urgency]:
        r = self.request(request_id or "")
        return (r.spec.category, r.spec.urgency) if r else (Category.OTHER, Urgency.NORMAL)

    # ---------------------------------------------------------------- per event
    def _offer(self, event: Event, body: OfferSent) -> Planned:
        helper = self.helper(body.helper_id)
        endpoints = self._endpoints_for(helper, private=False)
        request_id = event.request_id or ""
        if not endpoints:
            # Nowhere to reach this helper: tell the core now so it moves on at once.
            failed = ReportDeliveryFailure(
                request_id=request_id,
                offer_id=body.offer_id,
                helper_id=body.helper_id,
                reason="no usable channel",
            )
            return Planned(undeliverable=[failed])
        links = self.offer_links(
            request_id=request_id,
            offer_id=body.offer_id,
            helper_id=body.helper_id,
            community_id=event.community_id,
            expires_at=body.expires_at,
            platform_user_id=helper.profile.platform_user_id if helper else None,
        )
        minutes = max(1, int((body.expires_at - event.occurred_at).total_seconds() // 60))
        # What a group sees, every member sees: no per-helper link there (issue 12), only
        # the answer page a helper's bound phone opens; private channels keep their links.
        answer = self.public_base_url.rstrip("/") + ANSWER_PATH

        def message(group: bool) -> PushMessage:
            return render_offer(
                OfferSpec(
                    category=body.category,
                    urgency=body.urgency,
                    building=body.building_label,
                    accept_url=links["accept"],
                    decline_url=links["decline"],
                    helpers_needed=body.helpers_needed,
                    skills=tuple(Skill(s) for s in body.skills if s in Skill._value2member_map_),
                    reply_within_minutes=minutes,
                    answer_url=answer if group else None,
                )
            )

        deliveries = []
        for ep in endpoints:
            group = self.registry.get(ep).is_group
            data = {
                "request_id": request_id,
                "offer_id": body.offer_id,
                "helper_id": body.helper_id,
                "community_id": event.community_id,
            }
            if not group:
                data |= {"accept_url": links["accept"], "decline_url": links["decline"]}
            deliveries.append(
                Delivery(
                    delivery_id=event.event_id,
                    endpoint=ep,
                    kind=PushKind.OFFER,
                    message=message(group),
                    mentions=self._mentions(helper, ep),
                    recipient=body.helper_id,
                    batch_key=f"{request_id}:{body.step}",
                    data=data,
                )
            )
        return Planned(deliveries)

    def _assignment(self, event: Event, body: HelperAssigned) -> Planned:
        helper = self.helper(body.helper_id)
        endpoints = self._endpoints_for(helper, private=True)
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
                platform_user_id=helper.profile.platform_user_id if helper else None,
            )["accept"]
            if request is not None
            else None
        )
        place = body.place
        exact = body.contact.address or " ".join(
            str(p)
            for p in (
                place.compound_name,
                place.building_name or place.building_id,
                f"{place.unit}单元" if place.unit else None,
                f"{place.floor}楼" if place.floor is not None else None,
            )
            if p
        )
        message = render_assignment(
            AssignmentSpec(
                category=category,
                urgency=urgency,
                exact_place=exact or "见求助信息",
                contact_phone=body.contact.phone or "（未留电话）",
                contact_name=body.contact.name,
                status_url=status_url,
                remote=body.remote,
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
                )
                for ep in endpoints
            ]
        )

    def _stand_down(self, event: Event, body: OfferStoodDown) -> list[Delivery]:
        helper = self.helper(body.helper_id)
        endpoints = self._endpoints_for(helper, private=False)
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
                        reason=_CANCEL_REASONS.get(body.reason, CancelReason.EXPIRED),
                    )
                ),
            )
        return [
            Delivery(
                delivery_id=event.event_id,
                endpoint=ep,
                kind=kind,
                message=message,
                mentions=self._mentions(helper, ep),
                recipient=body.helper_id,
                data={"request_id": event.request_id or "", "offer_id": body.offer_id},
            )
            for ep in endpoints
        ]

    def _whistle(self, event: Event, body: WhistleBlown) -> list[Delivery]:
        r = self.request(event.request_id or "")
        place = r.spec.place if r else None
        # The community's group robot, then each configured recipient whose area covers
        # the request (grid group, grid worker, property, co-building units, departments).
        endpoints = [community_group_endpoint(event.community_id)] * body.broadcast_community_group
        endpoints += [
            c.endpoint
            for c in self.whistle_recipients(event.community_id)
            if place is None or c.covers(place.grid_id, place.compound_id, place.building_id)
        ]
        endpoints = [e for e in dict.fromkeys(endpoints) if e in self.registry]
        if not endpoints:
            return []
        waiting = int((event.occurred_at - r.created_at).total_seconds() // 60) if r else 0
        message = render_whistle(
            WhistleSpec(
                category=body.category,
                urgency=body.urgency,
                building=body.building_label,
                waiting_minutes=waiting,
                helpers_missing=body.open_slots,
                claim_url=f"{self.public_base_url.rstrip('/')}/dashboard",
            )
        )
        return [
            Delivery(
                # The group robot keeps the event's id (as before); each recipient its own.
                delivery_id=event.event_id if i == 0 else f"{event.event_id}:{endpoint}",
                endpoint=endpoint,
                kind=PushKind.WHISTLE,
                message=message,
                data={"request_id": event.request_id or ""},
            )
            for i, endpoint in enumerate(endpoints)
        ]
