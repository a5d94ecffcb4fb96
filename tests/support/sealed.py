"""What `request_private` keeps of a request, opened as the answer page opens it."""

from __future__ import annotations

import json
from typing import Any

from dispatcher.sealing import keyring, open_stored
from dispatcher.testing.stack import LocalStack
from schemas.requests import RequestPrivate


def opened(stack: LocalStack, request_id: str, row: Any) -> RequestPrivate:
    """`row`: request_private's contact, text and sealed columns."""
    sealed = json.loads(row["sealed"]) if row["sealed"] is not None else None
    return open_stored(
        keyring(stack.settings()), request_id, json.loads(row["contact"]), row["text"], sealed
    )
