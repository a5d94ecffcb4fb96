"""Staff accounts and request helpers for the staff-action tests (integration, security, e2e)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx

from dispatcher.api.staff_accounts import token_hash
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.waiting import eventually

DISTRICT = secrets.token_urlsafe(32)  # "ops": every community


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def write_staff_file(stack: LocalStack, scoped: dict[str, tuple[str, list[str]]]) -> None:
    """`scoped`: account name → (token, communities); plus the district-wide "ops"."""
    accounts: list[dict[str, Any]] = [
        {"name": "ops", "token_sha256": token_hash(DISTRICT), "communities": ["*"]}
    ]
    accounts += [
        {"name": name, "token_sha256": token_hash(token), "communities": communities}
        for name, (token, communities) in scoped.items()
    ]
    path = stack.root / "staff.json"
    path.write_text(json.dumps({"staff": accounts}))
    stack.extra_env["DISPATCH_STAFF_FILE"] = str(path)


async def recorded_request(c: httpx.AsyncClient, community: str) -> str:
    """A staff-made request, once the read model has it."""
    r = await c.post("/v1/requests", json=builders.request(community), headers=bearer(DISTRICT))
    assert r.status_code == 202, r.text
    rid: str = r.json()["request_id"]

    async def recorded() -> bool:
        got = await c.get(f"/v1/requests/{rid}", headers=bearer(DISTRICT))
        return got.status_code == 200

    await eventually(recorded, what=f"request {rid} recorded")
    return rid


async def status_of(c: httpx.AsyncClient, rid: str) -> dict[str, Any]:
    r = await c.get(f"/v1/requests/{rid}", headers=bearer(DISTRICT))
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc
