"""The attacks against the real API (real Kafka and PostgreSQL behind it): each file is refused
with a 422 that says why, and the API goes on serving honest ledgers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.security.test_xlsx_entities import LAUGHS
from tests.security.xlsx_files import LEDGER, build, inline_rows, one_string_bomb, sheet_xml

pytestmark = pytest.mark.integration

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FAR = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'


@pytest.fixture(scope="module")
async def client(stack: LocalStack) -> AsyncIterator[httpx.AsyncClient]:
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=90) as c:
        yield c


async def post(client: httpx.AsyncClient, data: bytes) -> httpx.Response:
    return await client.post(
        "/v1/admin/communities/sec-xlsx/roster",
        params={"compound_id": "c1", "dry_run": "true"},
        content=data,
        headers={"Authorization": "Bearer dev-staff-token", "content-type": XLSX},
    )


@pytest.mark.parametrize(
    ("attack", "says"),
    [
        (lambda: build(sheet_xml(inline_rows(LEDGER) + FAR, "A1:XFD1048576")), "1048576"),
        (lambda: one_string_bomb(256 * 1024 * 1024), "inflates to more than"),
        (lambda: build(sheet_xml(inline_rows(LEDGER), prolog=LAUGHS)), "DTD"),
    ],
    ids=["far-cell", "zip-bomb", "billion-laughs"],
)
async def test_attack_refused_and_api_still_serving(
    client: httpx.AsyncClient, attack: object, says: str
) -> None:
    assert callable(attack)
    r = await post(client, attack())
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["reason"] == "unreadable_ledger" and says in detail["message"]
    assert (await client.get("/healthz")).status_code == 200
    honest = await post(client, build(sheet_xml(inline_rows(LEDGER))))
    assert honest.status_code == 200 and honest.json()["valid"] == 2
