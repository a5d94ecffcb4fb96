"""Standard Webhooks signatures: sign (for bots and tests) and verify (for the API). Pure.

Signed content: `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256, base64, sent as
`webhook-signature: v1,<sig>` (several space-separated signatures allowed, so a bot can
sign with the old and the new secret during a rotation).

One extension: the signed payload is the request's method and target (path and query),
a newline, then the body (`bound_payload`), so a signature is bound to one method and path
and a captured one cannot be pointed at another route or request id (issue 12). A
Standard Webhooks library signs it as is: `Webhook(secret).sign(id, timestamp, payload)`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from dispatcher.clock import utcnow
from dispatcher.numbers import MAX_EPOCH_S, NotANumber, parse_int
from dispatcher.push.signing import sign, signed_content

TOLERANCE_S = 300  # five minutes either way
MAX_SIGNATURES = 8
_WEBHOOK_ID = re.compile(r"^[A-Za-z0-9_.:=+/-]{1,128}$")


NO_MATCH = "no signature matches this bot's secrets"


def bound_payload(method: str, target: str, body: bytes) -> bytes:
    """What a bot signs: `POST /v1/requests\n{"…"}`; a GET signs `GET /v1/requests/x\n`."""
    return f"{method.upper()} {target}\n".encode() + body


class SignatureError(Exception):
    """Why a signed request was refused; `reason` is a stable word for tests and metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class SignedHeaders:
    webhook_id: str
    timestamp: int
    signatures: tuple[bytes, ...]


def signed_headers(
    keys: Sequence[bytes],
    body: bytes,
    *,
    webhook_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Headers a bot sends (one signature per key)."""
    webhook_id = webhook_id or "msg_" + secrets.token_urlsafe(16)
    timestamp = int(utcnow().timestamp()) if timestamp is None else timestamp
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(k, webhook_id, timestamp, body) for k in keys),
    }


def parse_headers(
    webhook_id: str | None, timestamp: str | None, signature: str | None
) -> SignedHeaders:
    if not webhook_id or not timestamp or not signature:
        raise SignatureError(
            "missing_headers", "webhook-id, webhook-timestamp and webhook-signature are required"
        )
    if not _WEBHOOK_ID.match(webhook_id):
        raise SignatureError("bad_headers", "webhook-id: 1–128 characters of [A-Za-z0-9_.:=+/-]")
    try:
        seconds = parse_int(timestamp, "webhook-timestamp", lo=0, hi=MAX_EPOCH_S)
    except NotANumber:
        raise SignatureError("bad_headers", "webhook-timestamp must be unix seconds") from None
    sigs: list[bytes] = []
    for part in signature.split(" ")[:MAX_SIGNATURES]:
        version, _, value = part.partition(",")
        if version != "v1" or not value:
            continue  # other schemes (v1a, …) may sit beside ours
        try:
            sigs.append(base64.b64decode(value, validate=True))
        except ValueError:
            continue
    if not sigs:
        raise SignatureError("bad_signature", "no v1 signature in webhook-signature")
    return SignedHeaders(webhook_id, seconds, tuple(sigs))


def verify(
    keys: Sequence[bytes], headers: SignedHeaders, body: bytes, now: float, tolerance: int
) -> None:
    """Raise `SignatureError` unless one signature matches one key and the time is fresh."""
    if abs(now - headers.timestamp) > tolerance:
        raise SignatureError(
            "stale_timestamp",
            f"webhook-timestamp is more than {tolerance} s from the server's time",
        )
    content = signed_content(headers.webhook_id, headers.timestamp, body)
    ok = False
    for key in keys:
        expected = hmac.new(key, content, hashlib.sha256).digest()
        for sig in headers.signatures:
            # No early exit: timing does not reveal which key or signature matched.
            ok |= hmac.compare_digest(expected, sig)
    if not ok:
        raise SignatureError("bad_signature", NO_MATCH)
