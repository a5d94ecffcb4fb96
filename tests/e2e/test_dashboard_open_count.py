"""The dashboard during a surge, in a real headless Chromium: the "Open" tile shows every
open request, not the capped list's length; a note says how many of them the list shows;
the critical request opened last leads the list."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from dispatcher.testing.stack import LocalStack
from tests.e2e.dashboard_page import signed_in
from tests.support.open_surge import LIST_CAP, OPEN_IN_A, A, seed_surge
from tests.support.waiting import eventually

TOTAL = OPEN_IN_A + 1  # and community B's


async def test_open_tile_counts_all_and_says_how_many_are_listed(
    stack: LocalStack, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        await seed_surge(conn)
    finally:
        await conn.close()
    async with signed_in(stack, tmp_path) as browser:

        async def tile() -> str | None:
            text: str = await browser.evaluate("document.querySelector('#s-open').textContent")
            return text if text != "–" else None

        assert await eventually(tile, what="the Open tile filled in") == str(TOTAL)
        note = await browser.evaluate(
            "(() => { const n = document.querySelector('#open-shown');"
            " return [n.hidden, n.dataset.shown, n.dataset.total, n.textContent]; })()"
        )
        assert note[:3] == [False, str(LIST_CAP), str(TOTAL)]
        assert f"{LIST_CAP}" in note[3] and f"{TOTAL}" in note[3]
        rows = await browser.evaluate(
            "[...document.querySelectorAll('#requests tbody tr:not(.closed)')]"
            ".map(r => r.dataset.requestId)"
        )
        assert len(rows) == LIST_CAP and rows[0] == "crit"
        community_open = await browser.evaluate(
            f"document.querySelector('#communities tr[data-community={json.dumps(A)}]')"
            ".children[2].textContent"
        )
        assert community_open == str(OPEN_IN_A)
        await browser.screenshot(tmp_path / "dashboard-surge.png")
