"""Helper ids derived from (community, phone): keyed, so an id never reverses to a phone.

An 11-digit mobile number has ~10^10 values; an unkeyed hash of it (the ledger parser's
`uuid5(namespace, community + phone)`) is reversed by trying them all. The HMAC key is
`DISPATCH_HELPER_ID_KEY` (a server secret, 32+ random bytes in production). The parser
(sandboxed, no secrets) still names rows by the unkeyed hash; `keyed_profile` swaps that
for the keyed id before any command leaves the API, so only keyed ids reach Kafka, the
workers and PostgreSQL. Ids stay stable across re-imports as long as the key does;
`python -m dispatcher rekey-helpers` moves helpers registered under the old ids.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from dispatcher.settings import Settings
from schemas.helpers import HelperProfile

_LEGACY_NS = uuid.UUID("0c7f3a54-9d0e-4b61-8f0f-3a1c2b5d7e90")
PREFIX = "h-"
HEX_CHARS = 24  # 96 bits: distinct from the 16 hex chars of legacy ids


def id_key(settings: Settings) -> bytes:
    secret = settings.helper_id_key.get_secret_value().encode()
    return hmac.new(secret, b"neighbour-dispatch/helper-id/v1", hashlib.sha256).digest()


def keyed_helper_id(key: bytes, community_id: str, phone: str) -> str:
    mac = hmac.new(key, f"{community_id}\n{phone}".encode(), hashlib.sha256).hexdigest()
    return PREFIX + mac[:HEX_CHARS]


def keyed_profile(settings: Settings, profile: HelperProfile) -> HelperProfile:
    """The profile under its keyed id when its id is the unkeyed one the ledger parser
    derives from (community, phone); ids a ledger states itself (编号) are kept."""
    p = profile
    if not p.phone or p.helper_id != legacy_helper_id(p.community_id, p.phone):
        return p
    return p.model_copy(
        update={"helper_id": keyed_helper_id(id_key(settings), p.community_id, p.phone)}
    )


def legacy_helper_id(community_id: str, phone: str) -> str:
    """The old, reversible id: only to find helpers that still need `rekey-helpers`."""
    return PREFIX + uuid.uuid5(_LEGACY_NS, f"{community_id}\n{phone}").hex[:16]
