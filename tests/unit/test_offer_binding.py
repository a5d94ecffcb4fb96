"""The pure parts of binding a private offer link to a device (dispatcher/offer_binding.py):
the stored hash is keyed and bound to offer and helper, rotation keeps bindings, the
verdict, the cookie's name and lifetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import Request, Response
from pydantic import SecretStr

from dispatcher import offer_binding as ob
from dispatcher.api.offer_binding import Binding, remember
from dispatcher.settings import Settings

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
OLD = Settings(link_secret=SecretStr("o" * 40))
S = Settings(link_secret=SecretStr("n" * 40), link_secrets_previous=[OLD.link_secret])


def test_the_cookie_matches_only_its_own_offer_and_helper() -> None:
    cookie = ob.new_cookie()
    stored = ob.binding_hash(S, "offer-1", "h1", cookie)
    assert ob.matches(S, stored, "offer-1", "h1", cookie)
    assert not ob.matches(S, stored, "offer-2", "h1", cookie)  # replayed on another offer
    assert not ob.matches(S, stored, "offer-1", "h2", cookie)
    assert not ob.matches(S, stored, "offer-1", "h1", ob.new_cookie())  # another device
    assert not ob.matches(S, stored, "offer-1", "h1", None)
    assert not ob.matches(S, stored, "offer-1", "h1", "")
    assert not ob.matches(S, stored, "offer-1", "h1", cookie + "x" * ob.MAX_COOKIE_CHARS)


def test_the_server_keeps_a_keyed_hash_never_the_cookie() -> None:
    cookie = ob.new_cookie()
    stored = ob.binding_hash(S, "offer-1", "h1", cookie)
    assert cookie not in stored
    assert len(cookie) >= 43  # 32 random bytes
    # Keyed: the same cookie under another secret hashes differently (a database dump
    # with a guessed cookie is worth nothing without the link secret).
    other = Settings(link_secret=SecretStr("x" * 40))
    assert ob.binding_hash(other, "offer-1", "h1", cookie) != stored
    assert not ob.matches(other, stored, "offer-1", "h1", cookie)
    assert ob.new_cookie() != ob.new_cookie()


def test_a_binding_made_before_a_secret_rotation_still_matches() -> None:
    cookie = ob.new_cookie()
    stored_before = ob.binding_hash(OLD, "offer-1", "h1", cookie)
    assert ob.matches(S, stored_before, "offer-1", "h1", cookie)
    retired = Settings(link_secret=S.link_secret)  # the old secret dropped
    assert not ob.matches(retired, stored_before, "offer-1", "h1", cookie)


def test_verdict() -> None:
    assert ob.verdict(None, presented_ok=False, helpers_own=False) == "bind"
    assert ob.verdict("h", presented_ok=True, helpers_own=False) == "same_device"
    assert ob.verdict("h", presented_ok=False, helpers_own=True) == "same_device"
    assert ob.verdict("h", presented_ok=False, helpers_own=False) == "other_device"


def test_cookie_names_differ_per_offer_and_show_no_id() -> None:
    a, b = ob.cookie_name("offer-1"), ob.cookie_name("offer-2")
    assert a != b and a.startswith(ob.COOKIE_PREFIX)
    assert "offer" not in a


def test_the_cookie_lives_as_long_as_the_link_within_bounds() -> None:
    assert ob.cookie_lifetime(NOW + timedelta(minutes=5), NOW) == ob.MIN_LIFETIME
    assert ob.cookie_lifetime(NOW + timedelta(days=5), NOW) == timedelta(days=5)
    assert ob.cookie_lifetime(NOW + timedelta(days=400), NOW) == ob.MAX_LIFETIME


def _request(scheme: str) -> Request:
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "method": "GET",
            "path": "/l/o/x",
            "headers": [],
            "query_string": b"",
            "server": ("h", 443),
        }
    )


def test_the_cookie_is_httponly_lax_and_secure_behind_tls() -> None:
    binding = Binding(new_cookie=ob.new_cookie(), lifetime_s=172800)
    for scheme, secure in (("https", True), ("http", False)):
        answer = Response()
        remember(_request(scheme), binding, "offer-1", answer)
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{ob.cookie_name('offer-1')}={binding.new_cookie};")
        for flag in ("HttpOnly", "SameSite=lax", "Path=/l/o/", "Max-Age=172800"):
            assert flag in cookie, cookie
        assert ("Secure" in cookie) is secure, cookie
    answer = Response()
    remember(_request("https"), Binding(), "offer-1", answer)  # nothing newly bound
    assert "set-cookie" not in answer.headers
