"""Signatures, as each platform documents them. Pure functions; the tests recompute them
independently with hmac/hashlib/base64."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

WHSEC_PREFIX = "whsec_"
GENERATE_WHSEC = (
    'python -c "import base64,secrets;'
    "print('whsec_'+base64.b64encode(secrets.token_bytes(32)).decode())\""
)
NOT_WHSEC = (
    "must be 'whsec_' + the base64 of a random key (Standard Webhooks); "
    f"generate one with: {GENERATE_WHSEC}"
)


def webhook_secret_bytes(secret: str) -> bytes:
    """The key of a Standard Webhooks secret, "whsec_" + base64(key). A secret in any other
    form is refused (ValueError): the libraries base64-decode whatever follows the prefix,
    prefix or not, so using other text as the raw key would sign with a key they never
    compute. Padding may be left off, as the libraries allow."""
    if not secret.startswith(WHSEC_PREFIX):
        raise ValueError(NOT_WHSEC)
    text = secret.removeprefix(WHSEC_PREFIX)
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:  # binascii.Error is one
        raise ValueError(NOT_WHSEC) from None
    if not key:
        raise ValueError(NOT_WHSEC)
    return key


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    """What Standard Webhooks signs: `{webhook-id}.{webhook-timestamp}.{body}`."""
    return f"{msg_id}.{timestamp}.".encode() + body


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`: the one Standard Webhooks
    signer, used by the push channel, the API's verifier and the bots' helpers."""
    mac = hmac.new(key, signed_content(msg_id, timestamp, body), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def standard_webhook_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`sign` with a "whsec_" secret."""
    return sign(webhook_secret_bytes(secret), msg_id, timestamp, body)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: key = secret, message = "{timestamp_ms}\\n{secret}"; base64 then URL-encode.

    Returned URL-encoded, so it must be placed in the query string verbatim."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu: key = "{timestamp_s}\\n{secret}", message = b"" (the reverse of DingTalk)."""
    key = f"{timestamp_s}\n{secret}".encode()
    digest = hmac.new(key, b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")
