"""The attacks against the real API (real Kafka and PostgreSQL behind it): each file is refused
with a 422 that says why, and the API goes on serving honest ledgers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

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


# (a ledger's rows → the hostile file, what the refusal says): the household ledger's
# attack tests (test_household_ledger_attacks.py) use them with its own rows.
ATTACKS = [
    (lambda rows: build(sheet_xml(inline_rows(rows) + FAR, "A1:XFD1048576")), "1048576"),
    (lambda rows: one_string_bomb(256 * 1024 * 1024), "inflates to more than"),
    (lambda rows: build(sheet_xml(inline_rows(rows), prolog=LAUGHS)), "DTD"),
]
ATTACK_IDS = ["far-cell", "zip-bomb", "billion-laughs"]


async def refused_then_serving(
    client: httpx.AsyncClient,
    send: Callable[[bytes], Awaitable[httpx.Response]],
    hostile: bytes,
    says: str,
    honest: bytes,
) -> httpx.Response:
    """The hostile file gets a 422 saying why; the API still answers, and takes `honest`."""
    r = await send(hostile)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["reason"] == "unreadable_ledger" and says in detail["message"]
    assert (await client.get("/healthz")).status_code == 200
    answer = await send(honest)
    assert answer.status_code == 200, answer.text
    return answer


@pytest.mark.parametrize(("attack", "says"), ATTACKS, ids=ATTACK_IDS)
async def test_attack_refused_and_api_still_serving(
    client: httpx.AsyncClient, attack: Callable[[list[list[str]]], bytes], says: str
) -> None:
    honest = build(sheet_xml(inline_rows(LEDGER)))
    answer = await refused_then_serving(
        client, lambda data: post(client, data), attack(LEDGER), says, honest
    )
    assert answer.json()["valid"] == 2
