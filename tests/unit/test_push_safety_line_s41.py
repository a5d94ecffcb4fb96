"""The "如有生命危险，请立即拨打…" line of an offer, the whistle push and the referral push
names the number the requester is told (`RequestSpec.emergency()`), for every kind and
urgency, and the request's own red flag or named number where the planner holds it.
Before, it was read from the kind's `life_at_risk` mark, so a critical other, errand or
lost-person request (life-threatening with a number since 977915e) reached neighbours and
staff with no number to call, and a fire reported as `other` with none."""

from __future__ import annotations

import itertools
import re

import pytest

from dispatcher.push import EndpointKind
from dispatcher.push.messages import (
    OfferSpec,
    ReferralSpec,
    WhistleSpec,
    render_offer,
    render_referral,
    render_whistle,
)
from schemas.vocab import Category, EmergencyNumber, Urgency
from tests.unit.conftest import World
from tests.unit.test_push_deliveries import planner, registry, with_channels

KINDS = list(itertools.product(Category, Urgency))
SAFETY = re.compile(r"如有生命危险，请立即拨打(\d+)。")


def _numbers(text: str) -> list[str]:
    return SAFETY.findall(text)


def _told(world: World, category: Category, urgency: Urgency) -> list[str]:
    number = world.spec(category=category, urgency=urgency).emergency()
    return [] if number is None else [number.value]


@pytest.mark.parametrize(("category", "urgency"), KINDS)
def test_every_push_names_the_number_the_requester_is_told(
    world: World, category: Category, urgency: Urgency
) -> None:
    told = _told(world, category, urgency)
    offer = render_offer(
        OfferSpec(
            category=category,
            urgency=urgency,
            building="3号楼",
            accept_url="https://x/a",
            decline_url="https://x/d",
        )
    )
    whistle = render_whistle(
        WhistleSpec(
            category=category,
            urgency=urgency,
            building="3号楼",
            waiting_minutes=4,
            helpers_missing=1,
            claim_url="https://x/c",
        )
    )
    referral = render_referral(
        ReferralSpec(
            category=category,
            urgency=urgency,
            building="3号楼",
            refer_to=told[0] if told else "property",
            claim_url="https://x/c",
        )
    )
    for message in (offer, whistle, referral):
        assert _numbers(message.text) == told, message.text


@pytest.mark.parametrize("category", [Category.OTHER, Category.ERRAND, Category.LOST_PERSON])
def test_a_critical_other_errand_or_lost_person_offer_says_to_call(
    world: World, category: Category
) -> None:
    """The kinds the audit found without the line (each life-threatening when critical)."""
    assert _told(world, category, Urgency.CRITICAL)  # the requester is told a number
    offer = render_offer(
        OfferSpec(
            category=category,
            urgency=Urgency.CRITICAL,
            building=None,
            accept_url="https://x/a",
            decline_url="https://x/d",
        )
    )
    assert _numbers(offer.text) == _told(world, category, Urgency.CRITICAL)


@pytest.mark.parametrize(
    ("said", "named", "told"),
    [
        (None, EmergencyNumber.FIRE, ["119"]),  # a fire reported as `other`: its words' 119
        (False, None, []),  # the bot said no life is at risk: no line, as no number was told
    ],
)
def test_an_offer_names_the_number_its_own_request_was_told(
    world: World, said: bool | None, named: EmergencyNumber | None, told: list[str]
) -> None:
    """Not only the kind's rule: the request's red flag and named number, as
    `RequestSpec.emergency()` reads them, reach the neighbours' offers."""
    with_channels(world, "driver")
    world.submit(
        category=Category.OTHER,
        urgency=Urgency.CRITICAL,
        life_threatening=said,
        emergency_number=named,
    )
    assert _told(world, Category.OTHER, Urgency.CRITICAL) == ["120"]  # the kind's alone
    assert [n.value for n in [world.request().spec.emergency()] if n] == told
    [offer] = world.offer_events()
    deliveries = planner(world, registry(("default", EndpointKind.WEBHOOK))).plan(offer).deliveries
    assert deliveries and all(_numbers(d.message.text) == told for d in deliveries)
