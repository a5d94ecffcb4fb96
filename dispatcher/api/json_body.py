"""A JSON request body validated by hand, with the checks and error forms FastAPI gives a
declared body: for lean routes that skip FastAPI's per-request dependency solving (the bot
intake's hot path, issue 18).

As a declared body: an empty body is a missing field (422), a body not sent as JSON
(`Content-Type` other than `application/json` or `*+json`, or none: FastAPI's strict
default) is refused (422), JSON that does not parse is FastAPI's `json_invalid` 422 with
its position (JSON nested too deeply: the same 422 without one), bytes that are not text
are a 400, and validation errors are 422 with their `loc` under `body`. Unlike a naive
`model_validate_json`, no error ever carries the raw body as its `input` (it would echo
phones and addresses back, and bytes that are not UTF-8 would fail the error's own
rendering: a 500).
"""

from __future__ import annotations

import email.message
import functools
import json
from typing import Any, TypeVar

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


@functools.lru_cache(maxsize=64)  # bots send one or two forms; parsing one costs ~20 µs
def sent_as_json(content_type: str | None) -> bool:
    """FastAPI's test: application/json or application/*+json (parameters allowed)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def parse_json_body(model: type[M], content_type: str | None, raw: bytes) -> M:
    if not raw:
        raise _invalid("missing", "Field required", None)
    if not sent_as_json(content_type):
        msg = "send the body as JSON (Content-Type: application/json)"
        raise _invalid("model_attributes_type", msg, {})
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        _refuse_unparsable(raw)
    raise RequestValidationError(
        [
            {**e, "loc": ("body", *e["loc"])} | ({"input": {}} if e["loc"] == () else {})
            for e in errors
        ]
    )


class UnparsableJson(ValueError):
    """JSON that `json.loads` gives up on without a `JSONDecodeError`: nested deeper than
    its recursion allows (`[[[[…`), or not a str or bytes at all."""


def loads_json(data: bytes | str) -> Any:
    """`json.loads` for a request body: every way it fails is a ValueError (the handlers'
    "malformed JSON" 4xx), the deep nesting that `json.loads` answers with a RecursionError
    included."""
    try:
        return json.loads(data)
    except (RecursionError, TypeError):
        raise UnparsableJson("the JSON is nested too deeply or is not text") from None


def _refuse_unparsable(raw: bytes) -> None:
    """Why the body does not parse, in FastAPI's words (the rare path: parsed again)."""
    try:
        loads_json(raw)
    except UnparsableJson:
        pass  # too deep for any parser: `json_invalid` below, as pydantic said
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error]) from None
    except ValueError:  # not text in any JSON encoding
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from None
    raise _invalid("json_invalid", "JSON decode error", {})  # pydantic stricter than json


def _invalid(kind: str, msg: str, given: Any) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ("body",), "msg": msg, "input": given}])
