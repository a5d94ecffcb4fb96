"""Invite links (dispatcher/api/invites.py): signed, expiring, for invites only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from dispatcher.api.invites import (
    InviteError,
    InviteExpired,
    invite_token,
    invite_url,
    verify_invite,
)
from dispatcher.links import helper_link
from dispatcher.settings import Settings

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def settings(secret: str = "s" * 40, previous: tuple[str, ...] = ()) -> Settings:
    return Settings(
        link_secret=SecretStr(secret),
        link_secrets_previous=[SecretStr(p) for p in previous],
        public_base_url="https://help.example",
    )


def token(s: Settings, hours: float = 24, **kw: str) -> str:
    return invite_token(s, community_id="xian", expires_at=NOW + timedelta(hours=hours), **kw)


def test_a_good_invite_names_its_community_and_compound() -> None:
    s = settings()
    claims = verify_invite(s, token(s, compound_id="c1", compound_name="图强小区"), NOW)
    assert (claims.community_id, claims.compound_id, claims.compound_name) == (
        "xian",
        "c1",
        "图强小区",
    )
    assert invite_url(s, "t").startswith("https://help.example/join/")


def test_expired_is_refused_as_expired() -> None:
    s = settings()
    with pytest.raises(InviteExpired):
        verify_invite(s, token(s, hours=1), NOW + timedelta(hours=1))


def test_edited_forged_or_foreign_tokens_are_refused() -> None:
    s = settings()
    good = token(s)
    body, mac = good.split(".")
    edited = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    other_key = token(settings("o" * 40))
    personal = helper_link(s, helper_id="h1", community_id="xian", now=NOW).rsplit("/", 1)[1]
    for bad in (edited, other_key, personal, good + "x", "", "a.b.c", "." + mac):
        with pytest.raises(InviteError) as caught:
            verify_invite(s, bad, NOW)
        assert caught.type is InviteError  # tampered, never "expired"


def test_rotation_keeps_old_invites_valid_but_signs_with_the_new_secret() -> None:
    old = settings("o" * 40)
    rotated = settings("n" * 40, previous=("o" * 40,))
    assert verify_invite(rotated, token(old), NOW).community_id == "xian"
    with pytest.raises(InviteError):
        verify_invite(old, token(rotated), NOW)


def test_the_invite_command_prints_a_link_that_verifies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from dispatcher.api import invite_cli

    s = settings()
    monkeypatch.setattr(invite_cli, "get_settings", lambda: s)
    assert invite_cli.main(["--community", "xian", "--compound", "c1", "--hours", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    token = out["url"].removeprefix("https://help.example/join/")
    claims = verify_invite(s, token, datetime.fromisoformat(out["expires_at"]) - timedelta(hours=1))
    assert (claims.community_id, claims.compound_id) == ("xian", "c1")
    with pytest.raises(SystemExit):
        invite_cli.main(["--community", "xian", "--hours", "10000"])
