"""Byte-bounded truncation: platforms count UTF-8 bytes, and Chinese is 3 bytes a character."""

from __future__ import annotations

ELLIPSIS = "…"


def truncate_utf8(text: str, max_bytes: int, ellipsis: str = ELLIPSIS) -> str:
    """Return `text` if it fits in `max_bytes` UTF-8 bytes, else cut on a character
    boundary and end with `ellipsis`, the whole still within `max_bytes`."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    marker = ellipsis.encode("utf-8")
    if len(marker) > max_bytes:
        marker = b""
    head = encoded[: max_bytes - len(marker)]
    # errors="ignore" drops a multi-byte character cut in half at the end.
    return head.decode("utf-8", errors="ignore") + marker.decode("utf-8")
