"""Signed volunteer links: round trip, tamper, expiry, kind, key separation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from dispatcher.links import (
    HELPER_PATH,
    OFFER_PATH,
    LinkExpired,
    LinkTampered,
    action_links,
    helper_link,
    verify_token,
)
from dispatcher.settings import Settings

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
S = Settings(public_base_url="https://help.example.cn/", link_secret=SecretStr("s" * 32))


def token_of(url: str, prefix: str = OFFER_PATH) -> str:
    return url.split(prefix, 1)[1]


def make(**kw: object) -> dict[str, str]:
    args: dict[str, object] = {
        "request_id": "r1",
        "offer_id": "o1",
        "helper_id": "h1",
        "community_id": "c1",
        "expires_at": NOW + timedelta(minutes=10),
    }
    args.update(kw)
    return action_links(S, **args)  # type: ignore[arg-type]


def test_round_trip_binds_action_offer_helper_and_community() -> None:
    links = make()
    assert links["accept"].startswith("https://help.example.cn/l/o/")
    accept = verify_token(S, token_of(links["accept"]), NOW)
    decline = verify_token(S, token_of(links["decline"]), NOW)
    assert (accept.kind, decline.kind) == ("accept", "decline")
    assert (accept.request_id, accept.offer_id, accept.helper_id, accept.community_id) == (
        "r1",
        "o1",
        "h1",
        "c1",
    )
    assert accept.use_key == "accept:o1" and accept.expires_at == NOW + timedelta(minutes=10)


def test_expiry_is_exclusive() -> None:
    token = token_of(make()["accept"])
    verify_token(S, token, NOW + timedelta(minutes=9, seconds=59))
    with pytest.raises(LinkExpired):
        verify_token(S, token, NOW + timedelta(minutes=10))


def test_another_secret_or_an_edit_fails() -> None:
    token = token_of(make()["accept"])
    other = Settings(link_secret=SecretStr("t" * 32))
    with pytest.raises(LinkTampered):
        verify_token(other, token, NOW)
    body, sig = token.split(".")
    for bad in ("", ".", body, f"{body}.", f"{body}x.{sig}", f"{body}.{sig}x", token + ".x"):
        with pytest.raises(LinkTampered):
            verify_token(S, bad, NOW)


@given(st.text(max_size=300))
def test_garbage_is_always_tampered_never_a_crash(garbage: str) -> None:
    with pytest.raises(LinkTampered):
        verify_token(S, garbage, NOW)


@given(pos=st.integers(min_value=0, max_value=400), char=st.sampled_from("AQgw-_0"))
def test_any_single_character_edit_is_detected(pos: int, char: str) -> None:
    token = token_of(make()["accept"])
    i = pos % len(token)
    edited = token[:i] + char + token[i + 1 :]
    if edited == token:
        return
    with pytest.raises((LinkTampered, LinkExpired)):
        verify_token(S, edited, NOW)


def test_helper_link_is_personal_and_long_lived() -> None:
    url = helper_link(S, helper_id="h1", community_id="c1", now=NOW)
    claims = verify_token(S, token_of(url, HELPER_PATH), NOW + timedelta(days=300))
    assert claims.kind == "helper" and claims.offer_id is None and claims.helper_id == "h1"
    with pytest.raises(LinkExpired):
        verify_token(S, token_of(url, HELPER_PATH), NOW + timedelta(days=366))


def test_naive_expiry_is_refused() -> None:
    with pytest.raises(ValueError):
        make(expires_at=datetime(2024, 1, 1))


def _counting_urandom(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = iter(range(1 << 30))
    monkeypatch.setattr("os.urandom", lambda n: next(counter).to_bytes(4, "big") * (n // 4))


@given(
    st.text(min_size=1, max_size=12),
    st.text(min_size=1, max_size=12),
    st.one_of(st.none(), st.just(""), st.text(min_size=1, max_size=12)),
)
def test_offer_links_are_byte_for_byte_the_tokens_offer_token_makes(
    helper_id: str, community_id: str, platform_user_id: str | None
) -> None:
    """action_links writes its two tokens' claims itself (once per offer): with the same
    nonces they are exactly offer_token's (json.dumps), for any characters in the ids."""
    from dispatcher.links import offer_token

    claims = {
        "request_id": 'r"1\\',
        "offer_id": "o\u20281é",
        "helper_id": helper_id,
        "community_id": community_id,
        "expires_at": NOW + timedelta(minutes=10),
        "platform_user_id": platform_user_id,
    }
    with pytest.MonkeyPatch.context() as mp:
        _counting_urandom(mp)
        links = action_links(S, **claims)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as mp:
        _counting_urandom(mp)
        tokens = [offer_token(S, action=a, **claims) for a in ("accept", "decline")]  # type: ignore[arg-type]
    assert [token_of(links[a]) for a in ("accept", "decline")] == tokens
    accept = verify_token(S, tokens[0], NOW)
    assert (accept.helper_id, accept.community_id) == (helper_id, community_id)
    assert accept.platform_user_id == (platform_user_id or None)


def test_every_offer_link_takes_a_fresh_nonce() -> None:
    a, b = make(), make()
    tokens = {token_of(u) for u in (*a.values(), *b.values())}
    assert len(tokens) == 4 and len({t[:17] for t in tokens}) == 4  # "~" + 16 nonce chars


@given(st.binary(max_size=200))
def test_b64_is_base64url_unpadded(data: bytes) -> None:
    import base64

    from dispatcher.links import _b64

    assert _b64(data) == base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_sealed_tokens_are_the_textbook_aes_gcm_and_hmac_of_their_claims() -> None:
    """The sealer keeps one keyed MAC and copies it per token: every token, the first and
    the ones after, is exactly AES-GCM then HMAC-SHA256 set up afresh, as `verify_token`
    checks it."""
    import base64
    import hashlib
    import hmac
    import json

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from dispatcher.links import AAD, _derive, _enc_key, sign_claims

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    secret = S.link_secret.get_secret_value()
    for i in range(3):
        claims: dict[str, object] = {"v": 1, "k": "helper", "h": f"h{i}", "c": "c1", "e": i}
        with pytest.MonkeyPatch.context() as mp:
            _counting_urandom(mp)
            token = sign_claims(S, claims)
        nonce = (0).to_bytes(4, "big") * 3  # the counting source's first 12 bytes
        plain = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        body = "~" + b64(nonce + AESGCM(_enc_key(secret)).encrypt(nonce, plain, AAD))
        mac = hmac.new(_derive(secret), body.encode(), hashlib.sha256).digest()
        assert token == f"{body}.{b64(mac)}"
