"""Secrets in configuration: never shown, never audited, strong outside dev mode.

A state (a bot's or an endpoint's, as carried on the `config` topic) names its secrets by
field; wherever one of SECRET_FIELDS appears, its value is a secret. What leaves a process
is redacted: "(set)" for an API answer; a keyed fingerprint (HMAC, so a weak dev secret
cannot be brute-forced from it) in the PostgreSQL projection, only to tell "changed" from
"unchanged"; and the audit says "changed" and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as random_source
from collections.abc import Callable, Iterator
from typing import Any

from dispatcher.secret_policy import MIN_SECRET_BYTES, placeholder_problem, signing_secret_problem

SECRET_FIELDS = frozenset(
    {
        "secrets",
        "secret",
        "token",
        "encoding_aes_key",
        "app_secret",
        "verification_token",
        "encrypt_key",
    }
)
SHOWN = "(set)"
# Values we choose (a bot's signing secret, a webhook relay's signing secret) must be
# random and long; values a platform issues (robot tokens, app secrets, a DingTalk or Feishu
# robot's signing secret) only not placeholders.
_OURS = {("bot", "secrets", None), ("endpoint", "secret", "webhook")}


def _walk(value: Any, mark: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {
            k: (_mark(v, mark) if k in SECRET_FIELDS else _walk(v, mark)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_walk(v, mark) for v in value]
    return value


def _mark(value: Any, mark: Callable[[Any], Any]) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [mark(v) for v in value]
    return mark(value)


def shown(state: dict[str, Any]) -> dict[str, Any]:
    """For API answers and `config show`: each secret as "(set)"."""
    result: dict[str, Any] = _walk(state, lambda _: SHOWN)
    return result


def fingerprinted(state: dict[str, Any], key: bytes) -> dict[str, Any]:
    """For the projection: each secret as a keyed fingerprint (compare only)."""

    def mark(value: Any) -> str:
        raw = json.dumps(value, sort_keys=True).encode()
        return "fp:" + hmac.new(key, raw, hashlib.sha256).hexdigest()[:16]

    result: dict[str, Any] = _walk(state, mark)
    return result


def _flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flatten(v, f"{path}.{k}" if path else str(k))
    else:
        yield path, value


def _is_secret(path: str) -> bool:
    return any(part in SECRET_FIELDS for part in path.split("."))


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What changed, field by field, for the audit. Both states must be fingerprinted (or
    redacted alike): a secret's change is reported as such, never its value."""
    old = dict(_flatten(before)) if before else {}
    new = dict(_flatten(after)) if after else {}
    changes: list[dict[str, Any]] = []
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path), new.get(path)
        if a == b:
            continue
        if _is_secret(path):
            what = "added" if a is None else "removed" if b is None else "changed"
            changes.append({"path": path, "secret": what})
        else:
            changes.append({"path": path, "before": a, "after": b})
    return changes


def new_secret() -> str:
    """A Standard Webhooks secret: 32 random bytes."""
    return "whsec_" + base64.b64encode(random_source.token_bytes(MIN_SECRET_BYTES)).decode()


def _secret_values(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in SECRET_FIELDS and v is not None:
                for item in v if isinstance(v, list) else [v]:
                    yield (*path, k), str(item)
            else:
                yield from _secret_values(v, (*path, k))
    elif isinstance(value, list):
        for v in value:
            yield from _secret_values(v, path)


def secret_problems(kind: str, state: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, why) for each of a state's secrets not fit for production (issue 12)."""
    problems = []
    endpoint_kind = state.get("kind") if kind == "endpoint" else None
    for path, value in _secret_values(state):
        where = ".".join(path)
        if (kind, where, endpoint_kind) in _OURS:
            why = signing_secret_problem(value)
        else:
            why = placeholder_problem(value)
        if why:
            problems.append((where, why))
    return problems


def production_problems(kind: str, state: dict[str, Any]) -> list[str]:
    """Why a state's secrets are not fit for production, for a refused change."""
    return [f"{kind} {where} {why}" for where, why in secret_problems(kind, state)]
