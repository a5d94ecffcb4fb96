"""A team leader's count (`members`, the form from before names) that int() cannot read or
that is absurdly long is refused with 422, never a 500 (api/offer_pages._team_choice)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from fastapi.responses import HTMLResponse
from starlette.requests import Request

from dispatcher.api.offer_pages import TeamChoice, _team_choice


def _posted(form: dict[str, str]) -> Request:
    body = urlencode(form).encode()
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/l/o/t",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }
    return Request(scope, receive)


@pytest.mark.parametrize(
    "count",
    [
        "²",  # a superscript two: str.isdigit() says yes, int() raises
        "٣",  # an Arabic-Indic three: int() reads it, but it is no ASCII count
        "9" * 4301,  # past int()'s digit limit
        "12345",  # longer than any count
        "two",
        "-1",
    ],
)
async def test_an_unreadable_count_is_refused_with_422(count: str) -> None:
    answer = await _team_choice(_posted({"members": count}))
    assert isinstance(answer, HTMLResponse) and answer.status_code == 422
    assert "人数无效" in bytes(answer.body).decode()


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({}, TeamChoice()),
        ({"members": ""}, TeamChoice()),
        ({"members": " 3 "}, TeamChoice(3)),
        ({"members": "0"}, TeamChoice(1)),
        ({"members": "9999"}, TeamChoice(50)),
        ({"named": "1", "member": "m-2"}, TeamChoice(2, ("m-2",))),
    ],
)
async def test_a_readable_count_or_named_members_still_count(
    form: dict[str, str], expected: TeamChoice
) -> None:
    assert await _team_choice(_posted(form)) == expected
