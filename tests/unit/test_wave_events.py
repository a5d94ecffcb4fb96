"""`sent_offers` and `stand_downs` build each offer of a wave event unvalidated (the
generated constructors of `schemas/_builders.py`): each must be what validating the same
single event makes, value types and fields-set included, and what `model_construct` made
before (readers compare, hash and re-encode them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.events import (
    OfferSent,
    OffersSent,
    OffersStoodDown,
    OfferStoodDown,
    StoodDown,
    WaveOffer,
    sent_offers,
    stand_downs,
)
from schemas.vocab import Category, ReferralTarget, Ring, Urgency

WHEN = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def _same(built: BaseModel, expected: BaseModel) -> None:
    assert built == expected
    assert list(built.__dict__) == list(expected.__dict__)
    assert [type(v) for v in built.__dict__.values()] == [
        type(v) for v in expected.__dict__.values()
    ]
    assert built.__pydantic_fields_set__ == expected.__pydantic_fields_set__
    assert built.model_dump_json() == expected.model_dump_json()


def _wave() -> OffersSent:
    return OffersSent(
        step=1,
        expires_at=WHEN,
        category=Category.HOSPITAL_TRANSPORT,
        urgency=Urgency.CRITICAL,
        building_label="3号楼",
        helpers_needed=2,
        offers=(
            WaveOffer(
                offer_id="o1", helper_id="h1", ring=Ring.BUILDING, skills=("driving",), remote=False
            ),
            WaveOffer(
                offer_id="o2",
                helper_id="h2",
                ring=Ring.COMPOUND,
                skills=("nurse", "doctor"),
                remote=True,
                team_id="t1",
                team_size=4,
            ),
        ),
    )


def test_each_offer_of_a_wave_is_what_validation_and_model_construct_make() -> None:
    body = _wave()
    built = sent_offers(body)
    assert len(built) == 2
    for one, o in zip(built, body.offers, strict=True):
        fields: dict[str, Any] = {
            "offer_id": o.offer_id,
            "helper_id": o.helper_id,
            "ring": o.ring,
            "step": body.step,
            "expires_at": body.expires_at,
            "category": body.category,
            "urgency": body.urgency,
            "building_label": body.building_label,
            "helpers_needed": body.helpers_needed,
            "skills": o.skills,
            "remote": o.remote,
            "team_id": o.team_id,
            "team_size": o.team_size,
            "again": o.again,
        }
        _same(one, OfferSent.model_construct(**fields))
        validated = OfferSent.model_validate(fields)
        assert one == validated
        assert one.model_dump_json() == validated.model_dump_json()
        assert [type(v) for v in one.__dict__.values()] == [
            type(v) for v in validated.__dict__.values()
        ]


def test_a_single_offer_event_is_returned_as_it_is() -> None:
    one = sent_offers(_wave())[1]
    assert sent_offers(one) == [one]
    assert sent_offers(one)[0] is one


@pytest.mark.parametrize("to", [None, ReferralTarget.PROPERTY])
def test_each_stand_down_of_an_event_is_what_validation_makes(
    to: ReferralTarget | None,
) -> None:
    body = OffersStoodDown(
        reason="covered" if to is None else "referred",
        offers=(
            StoodDown(offer_id="o1", helper_id="h1"),
            StoodDown(offer_id="o2", helper_id="h2", was_assigned=True),
        ),
        to=to,
    )
    built = stand_downs(body)
    for one, o in zip(built, body.offers, strict=True):
        fields: dict[str, Any] = {
            "offer_id": o.offer_id,
            "helper_id": o.helper_id,
            "reason": body.reason,
            "was_assigned": o.was_assigned,
        }
        if to is not None:  # a referral's target (session 41); left out when None
            fields["to"] = to
        _same(one, OfferStoodDown.model_construct(**fields))
        assert one == OfferStoodDown.model_validate(fields)
    single = built[0]
    assert stand_downs(single)[0] is single
