"""The API's 422 (`errors.validation_refused`) and the staff actions' bodies, in-process.

FastAPI's default 422 quoted each refused value back (`input`): a phone or an address to
the caller, and a lone surrogate (half an emoji, JSON `"\\ud83d"`) that UTF-8 cannot
encode, so the answer itself failed: a 500. The staff actions' bodies were plain models,
so NUL (which PostgreSQL's text cannot hold) reached the staff audit row: a 500 there.
(Through the real API and worker: tests/security/test_unstorable_bodies.py.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request

from dispatcher.api.errors import validation_refused
from dispatcher.api.models import Body
from dispatcher.api.staff_actions import CallTeamIn, NoteIn, ReferIn

PHONE = "13912345678"


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": []})


async def _answer(errors: list[dict[str, Any]]) -> tuple[int, Any]:
    response = await validation_refused(_request(), RequestValidationError(errors))
    return response.status_code, json.loads(bytes(response.body))


async def test_the_422_keeps_type_loc_and_msg_and_drops_what_was_sent() -> None:
    errors = [
        {
            "type": "string_pattern_mismatch",
            "loc": ("body", "contact", "phone"),
            "msg": "String should match pattern '^\\+?[0-9 -]{5,20}$'",
            "input": f"电话{PHONE}",
            "ctx": {"pattern": "^\\+?[0-9 -]{5,20}$"},
        },
        {"type": "string_unicode", "loc": ("body", "text"), "msg": "m", "input": "晕倒了 \ud83d"},
        {"type": "missing", "loc": ("body", "items", 0, "id"), "msg": "Field required"},
    ]
    assert await _answer(errors) == (
        422,
        {
            "detail": [
                {
                    "type": "string_pattern_mismatch",
                    "loc": ["body", "contact", "phone"],
                    "msg": "String should match pattern '^\\+?[0-9 -]{5,20}$'",
                },
                {"type": "string_unicode", "loc": ["body", "text"], "msg": "m"},
                {"type": "missing", "loc": ["body", "items", 0, "id"], "msg": "Field required"},
            ]
        },
    )


async def test_a_lone_surrogate_in_a_name_or_a_message_still_renders() -> None:
    """A key the caller sent is named in `loc` (an unknown field, a dict's key): its half
    emoji is replaced, so the answer always encodes."""
    errors = [
        {"type": "extra_forbidden", "loc": ("body", "备注\ud83d"), "msg": "Extra \udc00"},
    ]
    status, doc = await _answer(errors)
    assert status == 422
    assert doc == {
        "detail": [
            {"type": "extra_forbidden", "loc": ["body", "备注\ufffd"], "msg": "Extra \ufffd"}
        ]
    }


@pytest.mark.parametrize(
    ("model", "doc", "field"),
    [
        (NoteIn, {"note": "好了\x00"}, "note"),
        (NoteIn, {"note": "好了\ud83d"}, "note"),
        (ReferIn, {"to": "department", "department": "居委会\x00"}, "department"),
        (ReferIn, {"to": "110", "note": "已报警\x00"}, "note"),
        (CallTeamIn, {"team_id": "帮帮团\x00"}, "team_id"),
        (CallTeamIn, {"team_id": "帮帮团\udfff"}, "team_id"),
    ],
)
def test_staff_action_bodies_refuse_what_postgresql_cannot_hold(
    model: type[Body], doc: dict[str, str], field: str
) -> None:
    assert issubclass(model, Body)
    with pytest.raises(ValidationError) as caught:
        model.model_validate(doc)
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]


def test_staff_action_bodies_still_take_what_they_took() -> None:
    assert ReferIn.model_validate({"to": "department", "department": "居委会"}).department == (
        "居委会"
    )
    assert CallTeamIn.model_validate({"team_id": "帮帮团"}).team_id == "帮帮团"
    assert NoteIn.model_validate({}).note == ""
    with pytest.raises(ValidationError):  # unknown fields: refused, as before
        NoteIn.model_validate({"note": "x", "rating": 5})
    with pytest.raises(ValidationError):  # a department exactly when referring to one
        ReferIn.model_validate({"to": "110", "department": "居委会"})
