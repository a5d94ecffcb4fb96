"""A NUL character (U+0000, `%00`) in a URL is refused with 400 before any route runs.

The API fuzz test once got a 500: a generated `community_id=...%00...` reached PostgreSQL
in the config history's query (text cannot hold NUL: CharacterNotInRepertoireError).
The attack, through the real API: NUL in a query parameter and in a path parameter of
staff routes that read PostgreSQL.
"""

from __future__ import annotations

import httpx

from dispatcher.api.url_guard import holds_nul
from dispatcher.testing.stack import LocalStack

STAFF = {"Authorization": "Bearer dev-staff-token"}


def test_nul_is_seen_raw_and_percent_encoded() -> None:
    assert holds_nul("/v1/requests/a\x00b", b"")
    assert holds_nul("/", b"community_id=a%00b")
    assert holds_nul("/", b"community_id=a\x00b")
    assert not holds_nul("/v1/requests/ab", b"community_id=a%2500b")  # "%00" itself, encoded


async def test_nul_in_a_url_is_refused_before_postgresql(stack: LocalStack) -> None:
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, headers=STAFF) as client:
        for url in (
            "/v1/admin/config/history?community_id=zh%00ua",
            "/v1/requests/r%00x",
        ):
            r = await client.get(url)
            assert r.status_code == 400, (url, r.status_code, r.text)
            assert r.json()["detail"]["reason"] == "nul_in_url"
        ok = await client.get("/v1/admin/config/history?community_id=zhonghua")
        assert ok.status_code == 200, ok.text
