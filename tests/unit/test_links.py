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
