"""Unvalidated constructors of the wire models, for hot loops: `builder(cls)` hands out a
constructor generated once per class (keyword-only parameters, one per field, defaults
filled in) that sets an instance up as validation would: the same `__dict__` in field order
and the same fields-set. Here, beside the models, so that the schemas' own helpers
(`events.sent_offers`, which the notify agent reads per offer of a wave) can use it;
the core's rules for using it are in `dispatcher/core/trusted.py`.

Frozen models alike share one fields-set (`shared_fields_set`): a frozen model's never
changes after it is built, and a set of its own per model was a third of the objects the
worker's state holds.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_UNSET: Any = object()  # "not passed": the field takes its default and stays out of the fields-set
# BaseModel's own slot descriptors, called directly: what `object.__setattr__` ends up
# calling for a frozen model, without looking the name up each time.
_slots = vars(BaseModel)
set_dict = _slots["__dict__"].__set__
set_fields_set = _slots["__pydantic_fields_set__"].__set__
set_extra = _slots["__pydantic_extra__"].__set__
set_private = _slots["__pydantic_private__"].__set__
new = object.__new__

# (class, fields set) → the one set those models share. Bounded by the schemas (a few optional
# fields per class, and only the combinations met); past the cap a set stays unshared.
SHARED: dict[tuple[type[BaseModel], frozenset[str]], set[str]] = {}
_SHARED_MAX = 10_000


def shared_fields_set(cls: type[BaseModel], fields_set: AbstractSet[str]) -> set[str]:
    """The fields-set every frozen `cls` with these fields set shares (never mutate it)."""
    key = (cls, frozenset(fields_set))
    shared = SHARED.get(key)
    if shared is None:
        shared = set(fields_set)
        if len(SHARED) < _SHARED_MAX:
            SHARED[key] = shared
    return shared


def _compile(cls: type[BaseModel]) -> Callable[..., Any]:
    """def Name(*, a, b, c=_UNSET): (a, b required; c optional) returning a `cls`; named
    after the class, so a missing or unknown field reads "OfferSent() missing …"."""
    params: list[str] = []
    lines: list[str] = []
    required: list[str] = []
    env: dict[str, Any] = {
        "_UNSET": _UNSET,
        "_cls": cls,
        "_new": new,
        "_set_dict": set_dict,
        "_set_fields_set": set_fields_set,
        "_set_extra": set_extra,
        "_set_private": set_private,
    }
    optional: list[str] = []
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
        bit = 1 << len(optional)
        optional.append(name)
        lines.append(f"    if {name} is _UNSET: {name} = {fill}\n    else: _k |= {bit}")
    names = list(cls.model_fields)
    shared = bool(cls.model_config.get("frozen"))
    # The optional fields passed, as bits → the fields-set: shared per combination for a
    # frozen class (`shared_fields_set`), else a new set per model as validation makes.
    sets: dict[int, set[str]] = {}

    def fields_set(k: int) -> set[str]:
        given = {n for j, n in enumerate(optional) if k >> j & 1}
        if not shared:
            return {*required, *given}
        fs = sets.get(k)
        if fs is None:
            fs = sets[k] = shared_fields_set(cls, {*required, *given})
        return fs

    env["_fields_set"] = fields_set
    env["_sets"] = sets
    body = "\n".join(lines)
    if shared:
        pick = "    _fs = _sets.get(_k)\n    if _fs is None: _fs = _fields_set(_k)\n"
    else:
        pick = "    _fs = _fields_set(_k)\n"
    src = (
        f"def {cls.__name__}(*, {', '.join(params)}):\n"
        "    _k = 0\n"
        f"{body}\n"
        f"{pick}"
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
