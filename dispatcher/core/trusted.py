"""Building wire models on the core's hot path without validating them again.

Every value the core puts into an event or record comes from models already validated
at the edge (the command, the stored records, the plan) or from the core's own
arithmetic on them, so pydantic's validation of each offer, event and load counter only
costs time: several µs per object, and a critical request's first wave makes ~60 of
them. `model_construct` skips validation but is slower still (it resolves aliases and
defaults field by field at every call). `trusted(cls, **values)` instead calls a
constructor generated once per class — keyword-only parameters, one per field, defaults
filled in — that sets the instance up as validation would: the same `__dict__` in field
order and the same fields-set. A missing or unknown field is a `TypeError`, as for any
Python call. `builder(cls)` hands out that constructor for hot loops (it lives beside the
models, `schemas/_builders.py`, whose own helpers use it too).

Models alike share one fields-set (`shared_fields_set`): a frozen model's never changes after
it is built (`model_copy` copies it first), and a set of its own per model was a third of the
objects the worker's state holds, each walked by every full garbage collection
(streams/gc_stats.py). `share_fields_sets(model)` does the same for a validated model's tree
where it enters the state (a request's spec, a helper's profile, a rebuild).

Callers must pass values of the field's own type (tuples not lists, enum members, UTC
datetimes); `tests/unit/test_core_trusted.py` re-validates every object the core emits in
its stories and checks each comes back identical, value types included.
"""

from __future__ import annotations

from typing import Any, TypeVar, get_args

from pydantic import BaseModel

from schemas._builders import SHARED as _SHARED
from schemas._builders import builder as builder
from schemas._builders import new as _new
from schemas._builders import set_dict as _set_dict
from schemas._builders import set_extra as _set_extra
from schemas._builders import set_fields_set as _set_fields_set
from schemas._builders import set_private as _set_private
from schemas._builders import shared_fields_set as shared_fields_set

M = TypeVar("M", bound=BaseModel)

# `replaced(model, values, SAME_FIELDS)`: every field that differs was set in `model` too.
SAME_FIELDS: frozenset[str] = frozenset()


def _mentions_model(annotation: Any) -> bool:
    """Whether a field's type can hold a model (itself, or inside a tuple, union, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_mentions_model(a) for a in get_args(annotation))


# Class → None for a value that is no model, else (frozen, the fields whose values can hold
# models): found once per class from the annotations, so a walk reads only those fields and
# pays no ABC `isinstance`/`issubclass` check (~0.2 µs each) per value.
_KINDS: dict[type, tuple[bool, tuple[str, ...]] | None] = {}


def _kind(cls: type) -> tuple[bool, tuple[str, ...]] | None:
    if cls in _KINDS:
        return _KINDS[cls]
    kind = None
    if issubclass(cls, BaseModel):
        nesting = tuple(n for n, f in cls.model_fields.items() if _mentions_model(f.annotation))
        kind = (bool(cls.model_config.get("frozen")), nesting)
    _KINDS[cls] = kind
    return kind


def share_fields_sets(model: M) -> M:
    """Give `model` and every frozen model inside it (fields, tuples of them) the shared
    fields-set of its kind, in place: the same sets by value, so nothing else changes."""
    stack: list[Any] = [model]
    while stack:
        m = stack.pop()
        cls = type(m)
        if cls is tuple:
            stack.extend(m)
            continue
        kind = _KINDS[cls] if cls in _KINDS else _kind(cls)
        if kind is None:
            continue  # None, or a value beside the models a field can hold
        frozen, nesting = kind
        if frozen:
            fs = m.__pydantic_fields_set__
            one = _SHARED.get((cls, frozenset(fs)))
            _set_fields_set(m, one if one is not None else shared_fields_set(cls, fs))
        d = m.__dict__
        stack.extend(d[n] for n in nesting)
    return model


def trusted(cls: type[M], **values: Any) -> M:
    """`cls(**values)` for values already of the right types, without validation."""
    return builder(cls)(**values)


def updated(model: M, **changes: Any) -> M:
    """`model.model_copy(update=changes)` (an equal fields-set, shared), in a fraction of the
    time. For frozen models only, as every `trusted` build."""
    d = model.__dict__.copy()
    d.update(changes)
    m: M = _new(type(model))
    _set_dict(m, d)
    fields_set = model.__pydantic_fields_set__
    if not changes.keys() <= fields_set:
        fields_set = shared_fields_set(type(model), fields_set | changes.keys())
    _set_fields_set(m, fields_set)
    _set_extra(m, None)
    _set_private(m, None)
    return m


def like(cls: type[M], values: dict[str, Any], fields_set: set[str]) -> M:
    """A `cls` with `values` (a copy the caller owns of a model's `__dict__`, edited in
    place) and that model's own `fields_set` (shared: nothing adds to a frozen model's
    fields-set after it is built): `replaced(model, values, SAME_FIELDS)` with the model's
    class and fields-set read once per run of copies (a wave's offers) instead of each."""
    m: M = _new(cls)
    _set_dict(m, values)
    _set_fields_set(m, fields_set)
    _set_extra(m, None)
    _set_private(m, None)
    return m


def replaced(model: M, values: dict[str, Any], changed: frozenset[str]) -> M:
    """`updated(model, **changes)` where `values` is already `model.__dict__` with the
    changes applied (a copy the caller owns) and `changed` names them: for the per-offer
    load count, which edits the copy in place instead of building a keyword dict. When
    `model` has every changed field in its fields-set already (e.g. `SAME_FIELDS`: a
    wave's offers copied from its first; a load counted before) the copy shares that set:
    nothing adds to the fields-set of a frozen model after it is built."""
    m: M = _new(type(model))
    _set_dict(m, values)
    fields_set = model.__pydantic_fields_set__
    if not changed <= fields_set:
        fields_set = shared_fields_set(type(model), fields_set | changed)
    _set_fields_set(m, fields_set)
    _set_extra(m, None)
    _set_private(m, None)
    return m
