"""Personal data sealed for the wire (issue 12.7): what Kafka may carry of a contact.

The box is AES-256-GCM under a key the broker never sees (`dispatcher/sealing.py`), bound
to what it belongs to (the request, or the helper), so a box copied into another record
does not open. `kid` names the key; a retired key's boxes no longer open anywhere.
"""

from __future__ import annotations

from pydantic import Field

from schemas._base import Wire


class Sealed(Wire):
    kid: str = Field(min_length=1, max_length=64)
    # base64url(nonce ‖ ciphertext ‖ tag); roomy: 2,000 characters of text JSON-escaped at
    # 6 bytes each still fit (a box the worker refused would lose an acknowledged request).
    box: str = Field(min_length=1, max_length=65_536)
