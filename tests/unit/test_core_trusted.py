"""The core builds events and records without validating them (`core.trusted`). These
tests show that what it builds is exactly what validation would have built: the same
values of the same types, fields-set and field order — for the constructors themselves
and for every object decided in a simulated week of requests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel

from dispatcher.core import decide as core_decide
from dispatcher.core.trusted import replaced, trusted, updated
from schemas.events import (
    _EVENT_NAMESPACE,
    Event,
    OfferSent,
    event_id_for,
    event_id_prefix,
    offer_id_for,
    offer_id_prefix,
    uuid5_of,
)
from schemas.records import HelperLoad, HelperState, OfferRecord, OfferStatus
from schemas.vocab import Category, Ring, Urgency
from tests.unit.conftest import simulated_week
from tests.unit.exact_models import exact as _exact

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def _revalidated(m: BaseModel) -> None:
    _exact(m, type(m).model_validate(m.model_dump()), type(m).__name__)
    assert type(m).model_validate_json(m.model_dump_json()) == m


def _offer_sent_values() -> dict[str, Any]:
    return {
        "offer_id": offer_id_for("r1", "h1"),
        "helper_id": "h1",
        "ring": Ring.GRID,
        "step": 0,
        "expires_at": NOW + timedelta(minutes=10),
        "category": Category.HOSPITAL_TRANSPORT,
        "urgency": Urgency.CRITICAL,
        "building_label": "3号楼",
        "helpers_needed": 2,
        "skills": ("driving",),
        "remote": False,
    }


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (OfferSent, _offer_sent_values()),
        (
            OfferRecord,
            {
                "offer_id": "o",
                "helper_id": "h1",
                "need_indexes": (0, 1),
                "ring": Ring.PAIRED,
                "step": 2,
                "sent_at": NOW,
                "expires_at": NOW,
            },
        ),
        (
            OfferRecord,  # an optional field given: it joins the fields-set
            {
                "offer_id": "o",
                "helper_id": "h1",
                "need_indexes": (),
                "ring": Ring.WHISTLE,
                "step": 0,
                "sent_at": NOW,
                "expires_at": NOW,
                "status": OfferStatus.EXPIRED,
                "closed_at": NOW,
            },
        ),
        (HelperLoad, {"day": date(2024, 3, 5), "offers_today": 3, "last_offered_at": NOW}),
        (HelperLoad, {}),
    ],
)
def test_trusted_builds_what_validation_builds(cls: type[BaseModel], values: dict[str, Any]):
    made = trusted(cls, **values)
    validated = cls(**values)
    _exact(made, validated)
    assert made.model_fields_set == validated.model_fields_set
    assert made.model_dump_json() == validated.model_dump_json()
    assert hash(made) == hash(validated)  # frozen models hash like validated ones


def test_trusted_event_with_body_and_default_factory():
    body = OfferSent(**_offer_sent_values())
    values = {
        "event_id": event_id_for("c1", 0),
        "community_id": "c",
        "request_id": "r1",
        "occurred_at": NOW,
        "caused_by": "c1",
        "body": body,
    }
    _exact(trusted(Event, **values), Event(**values))
    state = trusted(HelperState, profile=_profile())
    assert state.load == HelperLoad() and state.model_fields_set == {"profile"}
    assert trusted(HelperState, profile=_profile()).load is not state.load  # a fresh default


def _profile() -> Any:
    from schemas.helpers import HelperProfile
    from schemas.places import PlacePath

    place = PlacePath(community_id="c", grid_id="g", compound_id="k", building_id="b")
    return HelperProfile(helper_id="h1", place=place)


def test_trusted_refuses_missing_and_unknown_fields():
    values = _offer_sent_values()
    del values["ring"]
    with pytest.raises(TypeError, match=r"OfferSent.*ring"):
        trusted(OfferSent, **values)
    with pytest.raises(TypeError, match=r"OfferSent.*colour"):
        trusted(OfferSent, **_offer_sent_values(), colour="red")


def test_updated_is_model_copy():
    load = HelperLoad(day=date(2024, 3, 4), offers_today=2)
    changes = {"offers_today": 3, "last_offered_at": NOW}
    ours, theirs = updated(load, **changes), load.model_copy(update=changes)
    _exact(ours, theirs)
    assert ours.model_fields_set == theirs.model_fields_set == {"day", "offers_today", *changes}
    assert load.offers_today == 2  # the original is untouched


@pytest.mark.parametrize("name", ["", "cmd-1#0", "offer:r:h", "近邻互助#12", "x" * 300])
def test_fast_ids_are_rfc4122_uuid5(name: str):
    command_id, _, index = name.rpartition("#")
    if index.isdigit():
        assert event_id_for(command_id, int(index)) == str(uuid.uuid5(_EVENT_NAMESPACE, name))
    assert offer_id_for(name, "h") == str(uuid.uuid5(_EVENT_NAMESPACE, f"offer:{name}:h"))
    # The hot path's form: a head encoded once per command or wave, then the rest.
    if index.isdigit():
        assert uuid5_of(event_id_prefix(command_id) + index.encode()) == event_id_for(
            command_id, int(index)
        )
    assert uuid5_of(offer_id_prefix(name) + "h客".encode()) == offer_id_for(name, "h客")


def test_every_object_decided_in_a_simulated_week_is_what_validation_makes(monkeypatch):
    decisions = simulated_week(monkeypatch, seed=11)
    kinds: set[str] = set()
    for decision in decisions:
        for e in decision.events:
            kinds.add(e.body.type)
            _revalidated(e)
        for r in decision.requests.values():
            _revalidated(r)
        for h in decision.helpers.values():
            _revalidated(h)
    # The hot path's objects were all exercised, not just the rare ones.
    assert {"offers_sent", "offer_expired", "helper_assigned", "request_opened"} <= kinds


def test_decide_records_utc_whatever_offset_now_comes_in():
    """Validation turned any aware `now` into UTC; the unvalidated path must too."""
    from dispatcher.bench.match import NOW as BENCH_NOW
    from dispatcher.bench.match import MatchRunner

    runner = MatchRunner(300, 3, seed=1, progress=False)
    china = BENCH_NOW.astimezone(timezone(timedelta(hours=8)))
    for command in runner.commands:
        in_utc, in_china = (
            core_decide(runner.state, command, BENCH_NOW),
            core_decide(runner.state, command, china),
        )
        assert in_utc.events and len(in_utc.events) == len(in_china.events)
        _exact(in_utc.events, in_china.events)
        _exact(list(in_utc.requests.values()), list(in_china.requests.values()))
    with pytest.raises(ValueError, match="timezone-aware"):
        core_decide(runner.state, runner.commands[0], BENCH_NOW.replace(tzinfo=None))


@pytest.mark.parametrize("changed", [("offers_today",), ("offers_today", "last_offered_at")])
def test_replaced_is_model_copy_and_shares_the_fields_set_only_when_it_holds_the_changes(
    changed: tuple[str, ...],
):
    load = HelperLoad(day=date(2024, 3, 4), offers_today=2)
    changes = {"offers_today": 3, "last_offered_at": NOW}
    changes = {k: changes[k] for k in changed}
    values = {**load.__dict__, **changes}
    ours, theirs = replaced(load, values, frozenset(changed)), load.model_copy(update=changes)
    _exact(ours, theirs)
    assert ours.model_fields_set == theirs.model_fields_set
    shared = ours.__pydantic_fields_set__ is load.__pydantic_fields_set__
    assert shared == (set(changed) <= load.model_fields_set)
    assert load.model_fields_set == {"day", "offers_today"}  # the original is untouched


def _counted_by_model_copy(helper: HelperState, today: date) -> HelperState:
    """An offer counted in `helper`'s load as `model_copy` would: the reference for the
    hot path's in-place copies (`Effects.count_offers`)."""
    load = helper.load
    changes: dict[str, Any]
    if load.day != today:
        changes = {"day": today, "offers_today": 1, "assignments_today": 0}
    else:
        changes = {"offers_today": load.offers_today + 1}
    changes |= {"offers_total": load.offers_total + 1, "last_offered_at": NOW}
    return helper.model_copy(update={"load": load.model_copy(update=changes)})


def test_count_offers_is_model_copy_with_the_same_fields_sets():
    from dispatcher.core.effects import Effects
    from dispatcher.core.state import DispatchState
    from schemas.commands import Command, SetHelperStatus

    today = date(2024, 3, 5)  # NOW's day at UTC+8, the profile's default offset
    loads = {
        "fresh": HelperLoad(),  # nothing set: every changed field joins the fields-set
        "same-day": HelperLoad(day=today, offers_today=2),
        "new-day": HelperLoad(day=date(2024, 3, 4), offers_today=5, offers_total=9),
        "counted": trusted(  # every field an offer changes set already: the set is shared
            HelperLoad,
            day=today,
            offers_today=1,
            assignments_today=0,
            offers_total=1,
            last_offered_at=NOW - timedelta(minutes=5),
        ),
    }
    state = DispatchState()
    for helper_id, load in loads.items():
        profile = _profile().model_copy(update={"helper_id": helper_id})
        state.helpers[helper_id] = HelperState(profile=profile, load=load)
    command = Command(
        command_id="c1", community_id="c", issued_at=NOW, body=SetHelperStatus(helper_id="x")
    )
    fx = Effects(state, command, NOW)
    fx.count_offers([*loads, "gone", "same-day"])  # "gone": not on the roster (skipped)
    assert list(fx.helpers) == list(loads)
    for helper_id, ours in fx.helpers.items():
        theirs = _counted_by_model_copy(state.helpers[helper_id], today)
        if helper_id == "same-day":  # counted twice in one wave
            theirs = _counted_by_model_copy(theirs, today)
        _exact(ours, theirs)
        assert ours.model_fields_set == theirs.model_fields_set
        assert ours.load.model_fields_set == theirs.load.model_fields_set
        assert state.helpers[helper_id].load is loads[helper_id]  # the stored one untouched
    counted = loads["counted"]
    assert fx.helpers["counted"].load.__pydantic_fields_set__ is counted.__pydantic_fields_set__
