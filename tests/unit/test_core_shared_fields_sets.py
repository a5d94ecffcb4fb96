"""Frozen models alike share one fields-set (`core.trusted.shared_fields_set`): fewer objects
in the worker's state for the garbage collector to walk (streams/gc_stats.py). These tests
pin what that relies on — nothing adds to a frozen model's fields-set, pydantic copies it
before `model_copy` changes it — and show the state holds one set per kind of model."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from dispatcher.core import DispatchState
from dispatcher.core.trusted import share_fields_sets, shared_fields_set, trusted, updated
from schemas.commands import Command, SubmitRequest
from schemas.plans import EscalationPlan, LadderStep
from schemas.records import HelperLoad, HelperState
from tests.unit.conftest import World, simulated_week


def _models(root: Any) -> list[BaseModel]:
    out: list[BaseModel] = []
    stack = [root]
    while stack:
        m = stack.pop()
        if isinstance(m, BaseModel):
            out.append(m)
            stack.extend(m.__dict__.values())
        elif isinstance(m, tuple | list):
            stack.extend(m)
        elif isinstance(m, dict):
            stack.extend(m.values())
    return out


def _sets_by_kind(root: Any) -> dict[tuple[type, frozenset[str]], set[int]]:
    """(class, fields set) → the ids of the set objects models of that kind hold. Plans are
    left out: config, one per community and urgency that every request of it refers to."""
    kinds: dict[tuple[type, frozenset[str]], set[int]] = defaultdict(set)
    for m in _models(root):
        if isinstance(m, EscalationPlan | LadderStep):
            continue
        fs = m.__pydantic_fields_set__
        kinds[(type(m), frozenset(fs))].add(id(fs))
    return kinds


def test_trusted_builds_alike_share_one_set_and_unlike_ones_do_not() -> None:
    a = trusted(HelperLoad, offers_today=1)
    b = trusted(HelperLoad, offers_today=2)
    c = trusted(HelperLoad, offers_today=1, offers_total=1)
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__ == {"offers_today"}
    assert c.__pydantic_fields_set__ == {"offers_today", "offers_total"}
    assert c.__pydantic_fields_set__ is not a.__pydantic_fields_set__
    # The same set a validated model of that kind is given when shared.
    v = share_fields_sets(HelperLoad.model_validate({"offers_today": 5}))
    assert v.__pydantic_fields_set__ is a.__pydantic_fields_set__


def test_a_model_that_is_not_frozen_keeps_a_set_of_its_own() -> None:
    class Loose(BaseModel):
        model_config = ConfigDict(frozen=False)
        x: int = 0

    a, b = trusted(Loose, x=1), trusted(Loose, x=2)
    assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__ == {"x"}
    assert a.__pydantic_fields_set__ is not b.__pydantic_fields_set__
    a.x = 3  # pydantic adds to a mutable model's set: b's must not change
    assert share_fields_sets(a).__pydantic_fields_set__ is not b.__pydantic_fields_set__


def test_nothing_can_add_to_a_shared_set() -> None:
    a = trusted(HelperLoad, offers_today=1)
    shared = a.__pydantic_fields_set__
    with pytest.raises(ValidationError):
        a.offers_total = 3  # type: ignore[misc]  # frozen
    copied = a.model_copy(update={"offers_total": 3})  # pydantic copies the set first
    assert copied.model_fields_set == {"offers_today", "offers_total"}
    assert shared == {"offers_today"} and a.model_fields_set == {"offers_today"}
    u = updated(a, offers_total=3)
    assert u.model_fields_set == copied.model_fields_set and shared == {"offers_today"}


def test_a_validated_spec_shares_its_sets_where_it_enters_the_state() -> None:
    world = World()
    raw = world.command(SubmitRequest(spec=world.spec())).model_dump_json()
    one = Command.model_validate_json(raw)
    two = Command.model_validate_json(raw)
    assert one.body.spec.__pydantic_fields_set__ is not two.body.spec.__pydantic_fields_set__
    before = [(type(m), m.__dict__.copy(), set(m.__pydantic_fields_set__)) for m in _models(one)]
    share_fields_sets(one)
    share_fields_sets(two)
    after = [(type(m), m.__dict__, m.__pydantic_fields_set__) for m in _models(one)]
    assert before == after  # same values, equal sets
    for x, y in zip(_models(one), _models(two), strict=True):
        assert x.__pydantic_fields_set__ is y.__pydantic_fields_set__
    assert one == two and one.model_dump_json() == raw


def test_the_state_holds_one_set_per_kind_of_model(monkeypatch: pytest.MonkeyPatch) -> None:
    decisions = simulated_week(monkeypatch, seed=3)
    assert decisions
    state = DispatchState()
    for d in decisions:
        for r in d.requests.values():
            state.requests[r.request_id] = r
        for h in d.helpers.values():
            state.helpers[h.helper_id] = h
    kinds = _sets_by_kind((state.requests, state.helpers))
    assert len(kinds) > 10
    assert {k: len(ids) for k, ids in kinds.items() if len(ids) > 1} == {}


def test_a_rebuilt_state_shares_its_sets() -> None:
    world = World()
    world.helper("h1")
    world.run(SubmitRequest(spec=world.spec()))
    helpers = [
        HelperState.model_validate_json(h.model_dump_json()) for h in world.state.helpers.values()
    ]
    requests = [
        type(r).model_validate_json(r.model_dump_json()) for r in world.state.requests.values()
    ]
    rebuilt = DispatchState.rebuild(helpers, requests)
    assert rebuilt.requests == world.state.requests and rebuilt.helpers == world.state.helpers
    kinds = _sets_by_kind((rebuilt.requests, rebuilt.helpers, world.state.requests))
    assert {k: len(ids) for k, ids in kinds.items() if len(ids) > 1} == {}


def test_the_shared_sets_stay_equal_to_their_keys() -> None:
    from dispatcher.core import trusted as t

    for (_, fields), shared in t._SHARED.items():
        assert shared == fields
    assert shared_fields_set(HelperLoad, {"day"}) is shared_fields_set(HelperLoad, {"day"})
