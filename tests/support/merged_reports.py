"""The same incident reported again, as a bot sends it: what the merged-report modules share."""

from __future__ import annotations

from typing import Any


def again(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The same incident reported in another chat message (merged into the first)."""
    return {**body, "source": {**body["source"], "message_id": message_id}}
