"""Exact equality of built models: what a model built without validation is checked with
against the model validation builds (tests/unit/test_core_trusted.py, test_push_trusted.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel


def exact(a: Any, b: Any, path: str = "") -> None:
    """Equal, and of the same types all the way down (a str where an enum belongs, a list
    where a tuple belongs or a non-UTC time would compare equal but is not what
    validation makes)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, BaseModel):
        assert list(a.__dict__) == list(b.__dict__), path
        for k in a.__dict__:
            exact(a.__dict__[k], b.__dict__[k], f"{path}.{k}")
    elif isinstance(a, tuple | list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            exact(x, y, f"{path}[{i}]")
    elif isinstance(a, datetime):
        assert a == b and a.tzinfo is UTC and b.tzinfo is UTC, path
    else:
        assert a == b, path
