"""Contacts sealed for Kafka (issue 12.7): a phone, name, address or free text never
travels in a topic, a changelog or a dead letter in the clear.

The API seals a request's contact and text (`seal_spec`) and a helper's phone
(`seal_profile`) before the intake row is written and the command produced, so the outbox
row, the command, the worker's tables and the `HelperAssigned` event all hold the same
box. It is opened only where it is shown: the notify agent's assignment push to the
helper who accepted, and the answer page (`open_assignment`, `open_stored`); the
mentions of a group robot open a helper's phone (`helper_phone`).

AES-256-GCM, with a fresh 96-bit nonce per box and associated data naming what the box
belongs to (`request\\n<id>` or `helper-phone\\n<id>`), so a box moved into another record
fails to open. The key is derived from `DISPATCH_CONTACT_KEY` (32+ random bytes outside
dev mode, like every secret), which the broker never sees. Rotation: a new key seals;
`DISPATCH_CONTACT_KEYS_PREVIOUS` only open. A key id is a keyed digest of the key, so
it names the key without revealing anything of it.

What the core needs of the phones is computed before sealing: `phone_key`, an HMAC of
the normalised number under the helper-id key (stable across contact-key rotations), on
both the request and each helper, so the requester is still never offered their own
request.

Records from before (plain `contact`/`text`/`phone`) still open as they are, and the
worker seals them on decode (`seal_command`) and when it rebuilds its state from tables
written before (streams/state_store.py), so new table records and events never hold them
in the clear.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from dispatcher.core.entry import normalise_phone
from dispatcher.settings import Settings
from schemas.commands import Command, SubmitRequest, UpsertHelper
from schemas.events import HelperAssigned
from schemas.helpers import HelperProfile
from schemas.requests import RequesterContact, RequestPrivate, RequestSpec
from schemas.sealed import Sealed

NONCE_BYTES = 12
_KEY_LABEL = b"neighbour-dispatch/contact-seal/v1"
_KID_LABEL = b"neighbour-dispatch/contact-seal/kid"
_PHONE_LABEL = b"neighbour-dispatch/phone-key/v1"
PHONE_KEY_PREFIX = "pk-"


class Unreadable(Exception):
    """The box does not open: its key was retired, or it was altered or moved."""


class KeyRing:
    """The active key (seals and opens) and the previous ones (open only)."""

    def __init__(self, active: str, previous: list[str], phone_secret: str) -> None:
        keys = [_derive(s) for s in [active, *previous]]
        self._by_kid = {_kid(k): AESGCM(k) for k in keys}
        self.active_kid = _kid(keys[0])
        self._phone_mac = hmac.new(phone_secret.encode(), _PHONE_LABEL, hashlib.sha256).digest()

    def seal(self, plain: bytes, aad: bytes) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        box = nonce + self._by_kid[self.active_kid].encrypt(nonce, plain, aad)
        return Sealed(kid=self.active_kid, box=base64.urlsafe_b64encode(box).decode())

    def open(self, sealed: Sealed, aad: bytes) -> bytes:
        aead = self._by_kid.get(sealed.kid)
        if aead is None:
            raise Unreadable(f"key {sealed.kid} is not configured (retired?)")
        try:
            raw = base64.urlsafe_b64decode(sealed.box)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise Unreadable("the box does not open under its key (altered or moved)") from exc

    def phone_key(self, phone: str | None) -> str | None:
        digits = normalise_phone(phone)
        if digits is None:
            return None
        mac = hmac.new(self._phone_mac, digits.encode(), hashlib.sha256).hexdigest()
        return PHONE_KEY_PREFIX + mac[:40]


def _derive(secret: str) -> bytes:
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _kid(key: bytes) -> str:
    return hmac.new(key, _KID_LABEL, hashlib.sha256).hexdigest()[:12]


@functools.lru_cache(maxsize=8)
def _ring(active: str, previous: tuple[str, ...], phone_secret: str) -> KeyRing:
    return KeyRing(active, list(previous), phone_secret)


def keyring(settings: Settings) -> KeyRing:
    return _ring(
        settings.contact_key.get_secret_value(),
        tuple(s.get_secret_value() for s in settings.contact_keys_previous),
        settings.helper_id_key.get_secret_value(),
    )


def _request_aad(request_id: str) -> bytes:
    return f"request\n{request_id}".encode()


def _phone_aad(helper_id: str) -> bytes:
    return f"helper-phone\n{helper_id}".encode()


# ---------------------------------------------------------------------- requests
def seal_spec(ring: KeyRing, spec: RequestSpec) -> RequestSpec:
    """The spec as it may travel: contact and text in `sealed`, the phone's keyed digest
    beside it. A spec with nothing personal, or already sealed, is returned as is."""
    if spec.sealed is not None:
        return spec
    private = RequestPrivate(contact=spec.contact, text=spec.text)
    if private == RequestPrivate():
        return spec
    return spec.model_copy(
        update={
            "contact": RequesterContact(),
            "text": "",
            "sealed": ring.seal(private.model_dump_json().encode(), _request_aad(spec.request_id)),
            "requester_phone_key": spec.requester_phone_key or ring.phone_key(spec.contact.phone),
        }
    )


def open_sealed(ring: KeyRing, request_id: str, sealed: Sealed) -> RequestPrivate:
    plain = ring.open(sealed, _request_aad(request_id))
    try:
        return RequestPrivate.model_validate_json(plain)
    except ValidationError as exc:  # sealed by us, so never expected
        raise Unreadable("the box opened but does not hold a request's contact") from exc


def open_assignment(ring: KeyRing, request_id: str, body: HelperAssigned) -> RequestPrivate:
    """The contact and text an assignment carries (sealed, or plain from before 12.7)."""
    if body.sealed is None:
        return RequestPrivate(contact=body.contact, text=body.text)
    return open_sealed(ring, request_id, body.sealed)


# ---------------------------------------------------------------------- helpers
def seal_profile(ring: KeyRing, profile: HelperProfile) -> HelperProfile:
    """The profile as it may travel: the phone sealed, its keyed digest beside it."""
    if not profile.phone:
        return profile
    return profile.model_copy(
        update={
            "phone": None,
            "sealed_phone": ring.seal(profile.phone.encode(), _phone_aad(profile.helper_id)),
            "phone_key": ring.phone_key(profile.phone),
        }
    )


def helper_phone(ring: KeyRing, profile: HelperProfile) -> str | None:
    """The helper's phone (for a group robot's @-mention), or None if it does not open."""
    if profile.sealed_phone is None:
        return profile.phone
    try:
        return ring.open(profile.sealed_phone, _phone_aad(profile.helper_id)).decode()
    except (Unreadable, UnicodeDecodeError):
        return None


def unsealed_profile(ring: KeyRing, profile: HelperProfile) -> HelperProfile:
    """The profile with its phone in the clear (rekey-helpers derives ids from it)."""
    if profile.sealed_phone is None:
        return profile
    return profile.model_copy(
        update={"phone": helper_phone(ring, profile), "sealed_phone": None, "phone_key": None}
    )


# ---------------------------------------------------------------------- the wire
def seal_command(ring: KeyRing, command: Command) -> Command:
    """A command with every contact sealed; a command from before issue 12.7 (plain
    contact or phone) is sealed here, on decode, before the core or a table sees it."""
    body = command.body
    if isinstance(body, SubmitRequest):
        sealed_spec = seal_spec(ring, body.spec)
        if sealed_spec is body.spec:
            return command
        return command.model_copy(update={"body": SubmitRequest(spec=sealed_spec)})
    if isinstance(body, UpsertHelper):
        sealed_profile = seal_profile(ring, body.profile)
        if sealed_profile is body.profile:
            return command
        new_body = body.model_copy(update={"profile": sealed_profile})
        return command.model_copy(update={"body": new_body})
    return command


def open_stored(
    ring: KeyRing, request_id: str, contact: dict[str, Any], text: str, sealed: Any
) -> RequestPrivate:
    """What `request_private` keeps of a request (its `sealed` box, or the plain contact
    and text of an assignment from before 12.7), opened for the answer page."""
    if sealed is None:
        return RequestPrivate(contact=RequesterContact.model_validate(contact), text=text)
    return open_sealed(ring, request_id, Sealed.model_validate(sealed))
