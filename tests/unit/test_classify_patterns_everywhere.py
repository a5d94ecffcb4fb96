"""No pattern of the classifier can backtrack catastrophically, checked without a clock:
every compiled pattern anywhere in dispatcher.classify (module constants in every module,
and those its rule tables compile when they are built) repeats a bounded number of times.
tests/unit/test_classify_bounds.py checks the lexicon's strings and seven modules'
constants; this one also finds a pattern in a new module or inside a table object."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from re import _parser as sre_parse  # type: ignore[attr-defined]

import dispatcher.classify as package
from tests.unit.test_classify_bounds import _LINEAR, _unbounded

_SCALARS = (str, bytes, int, float, bool, type(None))


def _patterns_in(value: object, seen: set[int]) -> Iterator[re.Pattern[str]]:
    """Compiled patterns in `value`: itself, its items, or (a classifier object) its fields."""
    if id(value) in seen or isinstance(value, _SCALARS):
        return
    seen.add(id(value))
    if isinstance(value, re.Pattern):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _patterns_in(item, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _patterns_in(item, seen)
    elif type(value).__module__.startswith(package.__name__) and hasattr(value, "__dict__"):
        for item in vars(value).values():
            yield from _patterns_in(item, seen)


def every_pattern() -> dict[str, str]:
    """Pattern → where it was found first (module.name)."""
    found: dict[str, str] = {}
    seen: set[int] = set()
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            for compiled in _patterns_in(value, seen):
                found.setdefault(compiled.pattern, f"{info.name}.{name}")
    return found


def test_every_compiled_pattern_repeats_a_bounded_number_of_times() -> None:
    found = every_pattern()
    where = set(found.values())
    # The rule tables' own patterns and the modules the other test does not read.
    assert any(w.startswith("dispatcher.classify.rules.") for w in where)
    assert len(found) > 500, len(found)
    offenders = {
        p: w for p, w in found.items() if p not in _LINEAR and _unbounded(sre_parse.parse(p))
    }
    assert offenders == {}


def test_a_pattern_in_a_table_object_is_found() -> None:
    class Table:  # as the classifier's matchers keep their compiled alternatives
        __module__ = package.__name__ + ".example"

        def __init__(self) -> None:
            self.each = [None, re.compile(r"(\d+)+楼")]

    assert [p.pattern for p in _patterns_in({"t": Table()}, set())] == [r"(\d+)+楼"]
