"""Finding 2, staff accounts: one per person, scoped to communities, revocable without a
restart, and every use audited. The attacks: a community's staff acting in another
community, a revoked account (and its open dashboard session) carrying on."""

from __future__ import annotations

import json
import secrets

import asyncpg
import httpx

from dispatcher.api.staff_accounts import token_hash
from dispatcher.testing.stack import LocalStack
from tests.support import builders

LI = secrets.token_urlsafe(32)
WANG = secrets.token_urlsafe(32)


def staff_doc(li_revoked: bool = False) -> dict[str, object]:
    return {
        "staff": [
            {
                "name": "li",
                "token_sha256": token_hash(LI),
                "communities": ["sec-a"],
                "revoked": li_revoked,
            },
            {
                "name": "wang",
                "token_sha256": token_hash(WANG),
                "communities": ["sec-b"],
                "revoked": True,
            },
        ]
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_staff_accounts_are_scoped_revocable_and_audited(stack: LocalStack) -> None:
    staff_file = stack.root / "staff.json"
    staff_file.write_text(json.dumps(staff_doc()))
    stack.extra_env = {"DISPATCH_STAFF_FILE": str(staff_file)}
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as c:
        mine = builders.helper("a1", "sec-a", ["driving"])
        assert (
            await c.put("/v1/admin/helpers/a1", json=mine, headers=bearer(LI))
        ).status_code == 202
        # Another community's helper, ledger, report and the district-wide dashboard feed.
        theirs = builders.helper("b1", "sec-b", ["driving"])
        r = await c.put("/v1/admin/helpers/b1", json=theirs, headers=bearer(LI))
        assert r.status_code == 403, r.text
        r = await c.post(
            "/v1/admin/communities/sec-b/roster",
            content="姓名,手机,楼栋\n张三,13800000001,3号楼\n".encode(),
            headers={**bearer(LI), "content-type": "text/csv"},
        )
        assert r.status_code == 403
        assert (await c.get("/ops/v1/reports/sec-b/2026-11", headers=bearer(LI))).status_code == 403
        assert (await c.get("/ops/v1/reports/sec-a/2026-11", headers=bearer(LI))).status_code == 200
        # The dashboard overview: only their community's rows (was 403 before accounts
        # could act from the dashboard; tests/security/test_staff_action_attacks.py).
        ov = await c.get("/ops/v1/overview", headers=bearer(LI))
        assert ov.status_code == 200
        assert {row["community_id"] for row in ov.json()["communities"]} <= {"sec-a"}
        r = await c.post("/v1/requests", json=builders.request("sec-b"), headers=bearer(LI))
        assert r.status_code == 403, r.text
        # A revoked account is nobody.
        assert (
            await c.put("/v1/admin/helpers/b1", json=theirs, headers=bearer(WANG))
        ).status_code == 401
        # Li signs in to the dashboard; then Li is revoked: the token and the session both stop.
        login = await c.post("/dashboard/login", data={"token": LI})
        assert login.status_code == 303
        assert (await c.get("/ops/v1/reports/sec-a/2026-11")).status_code == 200  # cookie
        staff_file.write_text(json.dumps(staff_doc(li_revoked=True)))
        assert (await c.get("/ops/v1/reports/sec-a/2026-11")).status_code == 401
        c.cookies.clear()
        assert (
            await c.put("/v1/admin/helpers/a1", json=mine, headers=bearer(LI))
        ).status_code == 401
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        rows = await conn.fetch("SELECT staff, method, route, community_id FROM staff_audit")
    finally:
        await conn.close()
    seen = {(r["staff"], r["method"], r["route"], r["community_id"]) for r in rows}
    assert ("li", "PUT", "/v1/admin/helpers/{helper_id}", None) in seen
    assert ("li", "GET", "/ops/v1/reports/{community_id}/{month}", "sec-a") in seen
    assert all(r["staff"] == "li" for r in rows)  # the refused ones left no trace as someone
