"""The notify agent's logic: events → push deliveries, delivery failures → commands.

Endpoints come only from admin configuration (settings.push_endpoints); a helper's
`channels` name endpoints of that registry. A Faust event is acknowledged only when every
delivery it caused has been delivered or has failed for good, so a crash re-sends (the
delivery id, the event id, makes duplicates harmless to a deduping receiver).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dispatcher.links import ANSWER_PATH, action_links
from dispatcher.push import Deliverer, Delivery, EndpointRegistry, Mention, PushKind
from dispatcher.push.engine import EngineConfig, SubmitOutcome
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
from dispatcher.push.model import PushMessage
from dispatcher.settings import Settings
from schemas.commands import Command, DeliveryFailed, new_command
from schemas.events import Event, HelperAssigned, OfferSent, OfferStoodDown, WhistleBlown
from schemas.records import HelperState, RequestState
from schemas.vocab import Category, Skill, Urgency

log = logging.getLogger(__name__)

_CANCEL_REASONS = {
    "cancelled": CancelReason.REQUESTER_CANCELLED,
    "resolved": CancelReason.RESOLVED,
    "referred": CancelReason.REFERRED,
    "expired": CancelReason.EXPIRED,
}


def community_group_endpoint(community_id: str) -> str:
    """The registry name of a community's group robot, for the whistle broadcast."""
    return f"community-{community_id}"


@dataclass
class Notifier:
    settings: Settings
    registry: EndpointRegistry
    helper: Callable[[str], HelperState | None]
    request: Callable[[str], RequestState | None]
    send_command: Callable[[Command], Awaitable[None]]
    on_result: Callable[[Delivery, bool, float | None], None] = lambda d, ok, latency: None
    _deliverer: Deliverer | None = None
    _pending: dict[str, tuple[Any, set[str]]] = field(default_factory=dict)
    _owner: dict[str, str] = field(default_factory=dict)  # delivery id → faust event key
    _unreachable: list[Command] = field(default_factory=list)  # DeliveryFailed to send

    @property
    def enabled(self) -> bool:
        return len(self.registry) > 0

    async def deliverer(self) -> Deliverer:
        if self._deliverer is None:
            d = Deliverer(
                self.registry,
                on_delivered=self._delivered,
                on_permanent_failure=self._failed,
                config=EngineConfig(),
            )
            await d.__aenter__()
            self._deliverer = d
        return self._deliverer

    async def close(self) -> None:
        if self._deliverer is not None:
            await self._deliverer.aclose(drain_timeout=2.0)
            self._deliverer = None

    async def handle(self, faust_event: Any, event: Event) -> None:
        """Submit the deliveries `event` causes; ack `faust_event` when they are done."""
        deliveries = self.deliveries_for(event) if self.enabled else []
        await self.flush_unreachable()
        if not deliveries:
            faust_event.ack()
            return
        key = event.event_id
        self._pending[key] = (faust_event, {d.delivery_id for d in deliveries})
        deliverer = await self.deliverer()
        for d in deliveries:
            self._owner[d.delivery_id] = key
            outcome = await deliverer.submit(d)
            if outcome is SubmitOutcome.DUPLICATE:  # already delivered or queued: done here
                self._settle(d.delivery_id)

    # ---------------------------------------------------------------- rendering
    def deliveries_for(self, event: Event) -> list[Delivery]:
        body = event.body
        if isinstance(body, OfferSent):
            return self._offer(event, body)
        if isinstance(body, HelperAssigned):
            return self._assignment(event, body)
        if isinstance(body, OfferStoodDown):
            return self._stand_down(event, body)
        if isinstance(body, WhistleBlown):
            return self._whistle(event, body)
        return []

    def _endpoints_for(self, helper: HelperState | None, *, private: bool) -> list[str]:
        names = [c.split(":", 1)[-1] for c in (helper.profile.channels if helper else ())]
        if not names and self.settings.push_default_endpoint:
            names = [self.settings.push_default_endpoint]
        usable = [n for n in names if n in self.registry]
        if private:  # contact details never go to a group robot
            usable = [n for n in usable if not self.registry.get(n).is_group]
        return usable[:1]

    def _mentions(self, helper: HelperState | None, endpoint: str) -> tuple[Mention, ...]:
        if helper and helper.profile.phone and self.registry.get(endpoint).is_group:
            return (Mention(mobile=helper.profile.phone),)
        return ()

    def _offer(self, event: Event, body: OfferSent) -> list[Delivery]:
        helper = self.helper(body.helper_id)
        endpoints = self._endpoints_for(helper, private=False)
        request_id = event.request_id or ""
        if not endpoints:
            # Nowhere to reach this helper: tell the core now so it moves on at once.
            self._fail_offer_later(event, body.offer_id, body.helper_id, "no usable channel")
            return []
        links = action_links(
            self.settings,
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
        answer = self.settings.public_base_url.rstrip("/") + ANSWER_PATH

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
        return deliveries

    def _category_urgency(self, request_id: str | None) -> tuple[Category, Urgency]:
        r = self.request(request_id or "")
        return (r.spec.category, r.spec.urgency) if r else (Category.OTHER, Urgency.NORMAL)

    def _assignment(self, event: Event, body: HelperAssigned) -> list[Delivery]:
        helper = self.helper(body.helper_id)
        endpoints = self._endpoints_for(helper, private=True)
        if not endpoints:
            log.warning("assignment %s: helper has no private channel", body.offer_id)
            return []
        category, urgency = self._category_urgency(event.request_id)
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
            )
        )
        return [
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
        endpoint = community_group_endpoint(event.community_id)
        if not body.broadcast_community_group or endpoint not in self.registry:
            return []
        r = self.request(event.request_id or "")
        waiting = int((event.occurred_at - r.created_at).total_seconds() // 60) if r else 0
        message = render_whistle(
            WhistleSpec(
                category=body.category,
                urgency=body.urgency,
                building=body.building_label,
                waiting_minutes=waiting,
                helpers_missing=body.open_slots,
                claim_url=f"{self.settings.public_base_url.rstrip('/')}/dashboard",
            )
        )
        return [
            Delivery(
                delivery_id=event.event_id,
                endpoint=endpoint,
                kind=PushKind.WHISTLE,
                message=message,
                data={"request_id": event.request_id or ""},
            )
        ]

    # ---------------------------------------------------------------- results
    async def _delivered(self, delivery: Delivery, latency: float) -> None:
        self.on_result(delivery, True, latency)
        self._settle(delivery.delivery_id)

    async def _failed(self, delivery: Delivery, reason: str) -> None:
        self.on_result(delivery, False, None)
        log.warning(
            "delivery %s to %s failed for good: %s",
            delivery.delivery_id,
            delivery.endpoint,
            reason[:200],
        )
        if delivery.kind is PushKind.OFFER:
            d = delivery.data
            await self.send_command(
                new_command(
                    DeliveryFailed(
                        request_id=d["request_id"],
                        offer_id=d["offer_id"],
                        helper_id=d["helper_id"],
                        reason=reason[:200],
                    ),
                    community_id=d["community_id"],
                    issued_at=datetime.now(UTC),
                )
            )
        self._settle(delivery.delivery_id)

    def _fail_offer_later(self, event: Event, offer_id: str, helper_id: str, why: str) -> None:
        self._unreachable.append(
            new_command(
                DeliveryFailed(
                    request_id=event.request_id or "",
                    offer_id=offer_id,
                    helper_id=helper_id,
                    reason=why,
                ),
                community_id=event.community_id,
                issued_at=datetime.now(UTC),
            )
        )

    async def flush_unreachable(self) -> None:
        while self._unreachable:
            await self.send_command(self._unreachable.pop(0))

    def _settle(self, delivery_id: str) -> None:
        key = self._owner.pop(delivery_id, None)
        if key is None or key not in self._pending:
            return
        faust_event, remaining = self._pending[key]
        remaining.discard(delivery_id)
        if not remaining:
            del self._pending[key]
            faust_event.ack()
