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
Python call. `builder(cls)` hands out that constructor for hot loops.

Callers must pass values of the field's own type (tuples not lists, enum members, UTC
datetimes); `tests/unit/test_core_trusted.py` re-validates every object the core emits in
its stories and checks each comes back identical, value types included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_UNSET: Any = object()  # "not passed": the field takes its default and stays out of the fields-set
# BaseModel's own slot descriptors, called directly: what `object.__setattr__` ends up
# calling for a frozen model, without looking the name up each time.
_slots = vars(BaseModel)
_set_dict = _slots["__dict__"].__set__
_set_fields_set = _slots["__pydantic_fields_set__"].__set__
_set_extra = _slots["__pydantic_extra__"].__set__
_set_private = _slots["__pydantic_private__"].__set__
_new = object.__new__
# `replaced(model, values, SAME_FIELDS)`: every field that differs was set in `model` too.
SAME_FIELDS: frozenset[str] = frozenset()


def _compile(cls: type[BaseModel]) -> Callable[..., Any]:
    """def Name(*, a, b, c=_UNSET): (a, b required; c optional) returning a `cls`; named
    after the class, so a missing or unknown field reads "OfferSent() missing …"."""
    params: list[str] = []
    lines: list[str] = []
    required: list[str] = []
    env: dict[str, Any] = {
        "_UNSET": _UNSET,
        "_cls": cls,
        "_new": _new,
        "_set_dict": _set_dict,
        "_set_fields_set": _set_fields_set,
        "_set_extra": _set_extra,
        "_set_private": _set_private,
    }
    for i, (name, field) in enumerate(cls.model_fields.items()):
        if field.is_required():
            params.append(name)
            required.append(name)
            continue
        params.append(f"{name}=_UNSET")
        if field.default_factory is not None:
            env[f"_factory{i}"] = field.default_factory
            fill = f"_factory{i}()"
        else:
            env[f"_default{i}"] = field.default  # the schemas' defaults are immutable
            fill = f"_default{i}"
        lines.append(f"    if {name} is _UNSET: {name} = {fill}\n    else: _fs.add({name!r})")
    names = list(cls.model_fields)
    fields_set = "{" + ", ".join(map(repr, required)) + "}" if required else "set()"
    body = "\n".join(lines)
    src = (
        f"def {cls.__name__}(*, {', '.join(params)}):\n"
        f"    _fs = {fields_set}\n"
        f"{body}\n"
        # Set up as validation would, inline: these builders run ~90 times per critical request.
        f"    _m = _new(_cls)\n"
        f"    _set_dict(_m, {{{', '.join(f'{n!r}: {n}' for n in names)}}})\n"
        "    _set_fields_set(_m, _fs)\n"
        "    _set_extra(_m, None)\n"
        "    _set_private(_m, None)\n"
        "    return _m\n"
    )
    exec(src, env)  # the source is built above from the model's own field names
    build: Callable[..., Any] = env[cls.__name__]
    return build


_BUILDERS: dict[type[BaseModel], Callable[..., Any]] = {}


def builder(cls: type[M]) -> Callable[..., M]:
    """The unvalidated constructor of `cls` (keyword arguments only); for hot loops."""
    build = _BUILDERS.get(cls)
    if build is None:
        build = _BUILDERS[cls] = _compile(cls)
    return build


def trusted(cls: type[M], **values: Any) -> M:
    """`cls(**values)` for values already of the right types, without validation."""
    return builder(cls)(**values)


def updated(model: M, **changes: Any) -> M:
    """`model.model_copy(update=changes)` (same fields-set), in a fraction of the time."""
    d = model.__dict__.copy()
    d.update(changes)
    m: M = _new(type(model))
    _set_dict(m, d)
    _set_fields_set(m, model.__pydantic_fields_set__ | changes.keys())  # a new set
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
    _set_fields_set(m, fields_set if changed <= fields_set else fields_set | changed)
    _set_extra(m, None)
    _set_private(m, None)
    return m
