"""A declared Content-Length the API cannot take: not a number is 400, a number over the
limit 413 however many digits it has (past `int`'s 4,300-digit limit it used to be a 500)."""

from __future__ import annotations

import pytest

from dispatcher.api.body_limit import declared_refusal


def scope(length: bytes) -> dict[str, object]:
    return {"headers": [(b"content-length", length)]}


@pytest.mark.parametrize(
    ("length", "status"),
    [
        (b"100", None),
        (b"0000000000000000000000100", None),  # leading zeros: still 100
        (b"1001", 413),
        (b"9" * 5000, 413),
        (b"1" + b"0" * 40, 413),
        (b"\xb2", 400),
        (b"-1", 400),
        (b"", 400),
    ],
)
def test_a_declared_length_is_judged_without_a_crash(length: bytes, status: int | None) -> None:
    refusal = declared_refusal(scope(length), limit=1000)
    assert (refusal[0] if refusal else None) == status
