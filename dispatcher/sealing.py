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
`DISPATCH_CONTACT_KEYS_PREVIOUS` only open. A request's box lives out its retention, but
a helper's live as long as the helper: `seal_profile` seals a box under a previous key
again under the new one (the worker's decode and rebuild), and `python -m dispatcher
reseal-helpers` has every stored profile written so, before the old key may go. A key id
is a keyed digest of the key, so it names the key without revealing anything of it.

What the core needs of the phones is computed before sealing: `phone_key`, an HMAC of
the normalised number under the helper-id key (stable across contact-key rotations), on
both the request and each helper, so the requester is still never offered their own
request.

The rest of what names a person (issue 12, finding 7's second part): a helper's name
(`sealed_name`, its own box: the asking group may be told it) and platform user id
(`sealed_detail`, with the helper's unit and floor), and a request's unit and floor (in
the request's box). The core compares households, never reads them: a household id
("hh-wang", "hh-c1-b7-3-1202" names a family or a flat) travels as `household_key`, an
HMAC under the helper-id key, applied alike to the request's place, the helpers' homes
and pairings, so 结对 still matches.

What staff or a requester typed when a request ended (a cancel's reason, a resolve's or
a referral's note, a department named) is sealed at the API too (`seal_closing`), under
the request's key with its own binding (`request-note\n<id>`), into `sealed_note`: the
department's name stays beside it with phones and digits masked (`masked`), for the read
model's `referred_department`.

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
import re
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from dispatcher.core.entry import normalise_phone
from dispatcher.core.helper_commands import off_the_roster
from dispatcher.redact import masked
from dispatcher.settings import Settings
from schemas.commands import (
    CancelRequest,
    ClosingNote,
    Command,
    PairHousehold,
    ReferRequest,
    ResolveRequest,
    SubmitRequest,
    UpsertHelper,
)
from schemas.events import HelperAssigned
from schemas.helpers import HelperDetail, HelperProfile
from schemas.places import PlacePath
from schemas.requests import RequesterContact, RequestPrivate, RequestSpec
from schemas.sealed import Sealed

NONCE_BYTES = 12
_KEY_LABEL = b"neighbour-dispatch/contact-seal/v1"
_KID_LABEL = b"neighbour-dispatch/contact-seal/kid"
_PHONE_LABEL = b"neighbour-dispatch/phone-key/v1"
PHONE_KEY_PREFIX = "pk-"
_HOUSEHOLD_LABEL = b"neighbour-dispatch/household-key/v1"
HOUSEHOLD_KEY_PREFIX = "hk-"
_HOUSEHOLD_KEY = re.compile(r"hk-[0-9a-f]{40}")


class Unreadable(Exception):
    """The box does not open: its key was retired, or it was altered or moved."""


class KeyRing:
    """The active key (seals and opens) and the previous ones (open only)."""

    def __init__(self, active: str, previous: list[str], phone_secret: str) -> None:
        keys = [_derive(s) for s in [active, *previous]]
        self._by_kid = {_kid(k): AESGCM(k) for k in keys}
        self.active_kid = _kid(keys[0])
        self._phone_mac = hmac.new(phone_secret.encode(), _PHONE_LABEL, hashlib.sha256).digest()
        secret = phone_secret.encode()
        self._household_mac = hmac.new(secret, _HOUSEHOLD_LABEL, hashlib.sha256).digest()

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

    def reseal(self, sealed: Sealed, aad: bytes) -> Sealed:
        """The box under the active key: sealed again when under a previous one (key
        rotation); as it is when under the active key or when it does not open (kept, so
        that a key put back in `DISPATCH_CONTACT_KEYS_PREVIOUS` opens it again)."""
        if sealed.kid == self.active_kid:
            return sealed
        try:
            return self.seal(self.open(sealed, aad), aad)
        except Unreadable:
            return sealed

    def phone_key(self, phone: str | None) -> str | None:
        digits = normalise_phone(phone)
        if digits is None:
            return None
        mac = hmac.new(self._phone_mac, digits.encode(), hashlib.sha256).hexdigest()
        return PHONE_KEY_PREFIX + mac[:40]

    def household_key(self, community_id: str, household_id: str | None) -> str | None:
        """A household id as it may travel: keyed, per community; a digest stays as it is
        (so sealing twice changes nothing)."""
        if household_id is None or _HOUSEHOLD_KEY.fullmatch(household_id):
            return household_id
        msg = f"{community_id}\n{household_id}".encode()
        return (
            HOUSEHOLD_KEY_PREFIX
            + hmac.new(self._household_mac, msg, hashlib.sha256).hexdigest()[:40]
        )


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
def _bare_place(ring: KeyRing, place: PlacePath) -> PlacePath:
    """The place as the core needs it: down to the building, the household keyed."""
    household = ring.household_key(place.community_id, place.household_id)
    if place.unit is None and place.floor is None and household == place.household_id:
        return place
    return place.model_copy(update={"unit": None, "floor": None, "household_id": household})


def seal_spec(ring: KeyRing, spec: RequestSpec) -> RequestSpec:
    """The spec as it may travel: contact, text, unit and floor in `sealed`, the phone's
    keyed digest beside it, the household keyed. A spec with nothing personal, or already
    sealed, is returned as is; one sealed before the place was gets the place's detail
    added to its box."""
    place = _bare_place(ring, spec.place)
    household = ring.household_key(spec.community_id, spec.requester_household_id)
    bare = place is spec.place and household == spec.requester_household_id
    if spec.sealed is None:
        private: RequestPrivate | None = RequestPrivate(
            contact=spec.contact, text=spec.text, unit=spec.place.unit, floor=spec.place.floor
        )
        if private == RequestPrivate():
            private = None
    elif bare:
        return spec
    else:
        private = _with_place_detail(ring, spec, spec.sealed)
    if private is None and bare:
        return spec
    update: dict[str, Any] = {"place": place, "requester_household_id": household}
    if private is not None:
        update |= {
            "contact": RequesterContact(),
            "text": "",
            "sealed": ring.seal(private.model_dump_json().encode(), _request_aad(spec.request_id)),
            "requester_phone_key": spec.requester_phone_key or ring.phone_key(spec.contact.phone),
        }
    return spec.model_copy(update=update)


def _with_place_detail(ring: KeyRing, spec: RequestSpec, sealed: Sealed) -> RequestPrivate | None:
    """A box from before the place was sealed, opened with the unit and floor added; None
    when there is nothing to add, or the box does not open (the detail is then dropped:
    never kept in the clear)."""
    if spec.place.unit is None and spec.place.floor is None:
        return None
    try:
        opened = open_sealed(ring, spec.request_id, sealed)
    except Unreadable:
        return None
    return opened.model_copy(update={"unit": spec.place.unit, "floor": spec.place.floor})


def open_sealed(ring: KeyRing, request_id: str, sealed: Sealed) -> RequestPrivate:
    plain = ring.open(sealed, _request_aad(request_id))
    try:
        return RequestPrivate.model_validate_json(plain)
    except ValidationError as exc:  # sealed by us, so never expected
        raise Unreadable("the box opened but does not hold a request's contact") from exc


def open_assignment(ring: KeyRing, request_id: str, body: HelperAssigned) -> RequestPrivate:
    """The contact, text, unit and floor an assignment carries (sealed, or plain from
    before 12.7; a box from before the place was sealed has them on the place)."""
    place = {"unit": body.place.unit, "floor": body.place.floor}
    if body.sealed is None:
        return RequestPrivate(contact=body.contact, text=body.text, **place)
    opened = open_sealed(ring, request_id, body.sealed)
    if opened.unit is None and opened.floor is None:
        return opened.model_copy(update=place)
    return opened


# ---------------------------------------------------------------------- closing notes
Closing = CancelRequest | ResolveRequest | ReferRequest


def _note_aad(request_id: str) -> bytes:
    return f"request-note\n{request_id}".encode()


def seal_closing(ring: KeyRing, body: Closing) -> Closing:
    """The command as it may travel: what was typed (reason or note, and the department)
    in `sealed_note`, the plain fields emptied but the department masked. Sealing twice,
    or a command with nothing typed, changes nothing."""
    text = body.reason if isinstance(body, CancelRequest) else body.note
    department = body.department if isinstance(body, ReferRequest) else ""
    if body.sealed_note is not None or not (text or department):
        return body
    note = ClosingNote(text=text, department=department).model_dump_json().encode()
    update: dict[str, Any] = {
        "reason" if isinstance(body, CancelRequest) else "note": "",
        "sealed_note": ring.seal(note, _note_aad(body.request_id)),
    }
    if department:
        update["department"] = masked(department)
    return body.model_copy(update=update)


def open_note(ring: KeyRing, request_id: str, sealed: Sealed) -> ClosingNote:
    """A closing command's or event's `sealed_note` (raises Unreadable)."""
    try:
        return ClosingNote.model_validate_json(ring.open(sealed, _note_aad(request_id)))
    except ValidationError as exc:  # sealed by us, so never expected
        raise Unreadable("the box opened but does not hold a closing note") from exc


# ---------------------------------------------------------------------- helpers
def _helper_aad(what: str, helper_id: str) -> bytes:
    return f"helper-{what}\n{helper_id}".encode()


_HELPER_BOXES = (("sealed_phone", "phone"), ("sealed_name", "name"), ("sealed_detail", "detail"))


def seal_profile(ring: KeyRing, profile: HelperProfile) -> HelperProfile:
    """The profile as it may travel: phone, name, platform user id, unit and floor sealed
    (the phone's keyed digest beside it), households keyed. Sealing twice changes nothing,
    except that a box under a previous key is sealed again under the active one: a helper
    lives on past any retention, so their boxes must not stay under a key to be retired.
    An inactive profile keeps none of them (`off_the_roster`): also one stored inactive
    before deactivating erased them, which the worker's rebuild then erases."""
    if not profile.active:
        profile = _off_the_roster(profile)
    hid = profile.helper_id
    update: dict[str, Any] = _resealed(ring, profile)
    if profile.phone:
        update |= {
            "phone": None,
            "sealed_phone": ring.seal(profile.phone.encode(), _phone_aad(hid)),
            "phone_key": ring.phone_key(profile.phone),
        }
    if profile.name:
        update |= {
            "name": "",
            "sealed_name": ring.seal(profile.name.encode(), _helper_aad("name", hid)),
        }
    place = profile.place
    if profile.platform_user_id or place.unit is not None or place.floor is not None:
        detail = HelperDetail(
            platform_user_id=profile.platform_user_id, unit=place.unit, floor=place.floor
        )
        sealed = ring.seal(detail.model_dump_json().encode(), _helper_aad("detail", hid))
        update |= {"platform_user_id": None, "sealed_detail": sealed}
    bare = _bare_place(ring, place)
    if bare is not place:
        update["place"] = bare
    community = place.community_id
    paired = tuple(ring.household_key(community, h) or h for h in profile.paired_household_ids)
    if paired != profile.paired_household_ids:
        update["paired_household_ids"] = paired
    return profile.model_copy(update=update) if update else profile


def _off_the_roster(profile: HelperProfile) -> HelperProfile:
    erased = off_the_roster(profile)
    return profile if erased == profile else erased


def _resealed(ring: KeyRing, profile: HelperProfile) -> dict[str, Any]:
    """The profile's boxes under a previous key, sealed again under the active one."""
    update: dict[str, Any] = {}
    for field, what in _HELPER_BOXES:
        box: Sealed | None = getattr(profile, field)
        if box is not None and box.kid != ring.active_kid:
            resealed = ring.reseal(box, _helper_aad(what, profile.helper_id))
            if resealed is not box:
                update[field] = resealed
    return update


def stale_kids(ring: KeyRing, profile: HelperProfile) -> list[str]:
    """The key ids of the profile's boxes not under the active key (reseal-helpers: keys
    still needed to open them, or retired already)."""
    kids = {
        box.kid
        for field, _ in _HELPER_BOXES
        if (box := getattr(profile, field)) is not None and box.kid != ring.active_kid
    }
    return sorted(kids)


def _open_helper(ring: KeyRing, sealed: Sealed, aad: bytes) -> str | None:
    try:
        return ring.open(sealed, aad).decode()
    except (Unreadable, UnicodeDecodeError):
        return None


def helper_phone(ring: KeyRing, profile: HelperProfile) -> str | None:
    """The helper's phone (for a group robot's @-mention), or None if it does not open."""
    if profile.sealed_phone is None:
        return profile.phone
    return _open_helper(ring, profile.sealed_phone, _phone_aad(profile.helper_id))


def helper_name(ring: KeyRing, profile: HelperProfile) -> str:
    """The helper's name (their own welcome message), or "" if none or it does not open."""
    if profile.sealed_name is None:
        return profile.name
    return _open_helper(ring, profile.sealed_name, _helper_aad("name", profile.helper_id)) or ""


def group_name(ring: KeyRing, body: HelperAssigned) -> str | None:
    """The name the asking group is told: only when the helper opted in (the core copied
    their name box into the assignment, or the plain name of a profile from before)."""
    if body.sealed_group_name is None:
        return body.group_name
    return _open_helper(ring, body.sealed_group_name, _helper_aad("name", body.helper_id))


def helper_detail(ring: KeyRing, profile: HelperProfile) -> HelperDetail:
    """The helper's platform user id, unit and floor (plain before 12.7, else the box;
    empty if it does not open)."""
    if profile.sealed_detail is None:
        return HelperDetail(
            platform_user_id=profile.platform_user_id,
            unit=profile.place.unit,
            floor=profile.place.floor,
        )
    plain = _open_helper(ring, profile.sealed_detail, _helper_aad("detail", profile.helper_id))
    return HelperDetail.model_validate_json(plain) if plain else HelperDetail()


def unsealed_profile(ring: KeyRing, profile: HelperProfile) -> HelperProfile:
    """The profile with its phone, name and detail in the clear (rekey-helpers derives ids
    from the phone); households stay keyed (a digest is kept as it is when sealed again)."""
    if (
        profile.sealed_phone is None
        and profile.sealed_name is None
        and profile.sealed_detail is None
    ):
        return profile
    detail = helper_detail(ring, profile)
    return profile.model_copy(
        update={
            "phone": helper_phone(ring, profile),
            "sealed_phone": None,
            "phone_key": None,
            "name": helper_name(ring, profile),
            "sealed_name": None,
            "platform_user_id": detail.platform_user_id,
            "sealed_detail": None,
            "place": profile.place.model_copy(update={"unit": detail.unit, "floor": detail.floor}),
        }
    )


def seal_pairing(ring: KeyRing, community_id: str, body: PairHousehold) -> PairHousehold:
    """A 结对 as it may travel: the household keyed like the requests' and helpers'."""
    household = ring.household_key(community_id, body.household_id) or body.household_id
    return body.model_copy(update={"household_id": household})


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
    if isinstance(body, PairHousehold):
        pairing = seal_pairing(ring, command.community_id, body)
        if pairing.household_id == body.household_id:
            return command
        return command.model_copy(update={"body": pairing})
    if isinstance(body, CancelRequest | ResolveRequest | ReferRequest):
        closing = seal_closing(ring, body)
        return command if closing is body else command.model_copy(update={"body": closing})
    return command


def open_stored(
    ring: KeyRing, request_id: str, contact: dict[str, Any], text: str, sealed: Any
) -> RequestPrivate:
    """What `request_private` keeps of a request (its `sealed` box, or the plain contact
    and text of an assignment from before 12.7), opened for the answer page."""
    if sealed is None:
        return RequestPrivate(contact=RequesterContact.model_validate(contact), text=text)
    return open_sealed(ring, request_id, Sealed.model_validate(sealed))
