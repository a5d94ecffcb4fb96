"""docs/onboarding.md, run verbatim: every command of its `bash` blocks, in order, in one
shell, against the real stack (Kafka, PostgreSQL, the worker and the API running, nothing
restarted). The environment stands in for the operator's: the API's address, a staff
token, the relay URLs (a real local receiver plays the helpers' phones), a home directory.
Then the outcome the guide promises: the ledger's helpers exist, the group's bot is
accepted, and the first request's offers reach building 3's drivers' phones."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import asyncpg

from dispatcher.settings import REPO_ROOT
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from tests.support.waiting import eventually

GUIDE = REPO_ROOT / "docs" / "onboarding.md"
BLOCK = re.compile(r"^```bash\n(.*?)^```$", re.S | re.M)


def guide_script() -> str:
    blocks = BLOCK.findall(GUIDE.read_text(encoding="utf-8"))
    assert len(blocks) >= 6, "the guide's command blocks were not found"
    return "set -euo pipefail\n" + "\n".join(blocks)


async def test_the_onboarding_guide_runs_verbatim(stack: LocalStack, tmp_path: Path) -> None:
    stack.start_worker()
    await stack.start_api()
    async with PushReceiver() as phones:
        env = stack.env(
            HOME=str(tmp_path),
            PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            PHONES_URL=phones.url("/siming"),
            GRID_WORKER_URL=phones.url("/grid-worker"),
        )
        env.pop("DISPATCH_CONFIG_TOKEN", None)  # the guide's default: make run's dev token
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            guide_script(),
            env=env,
            cwd=str(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
        text = out.decode(errors="replace")
        assert proc.returncode == 0, text[-3000:]

        # The first request: the send-test answer names it; its offers reach the phones.
        answers = re.findall(r'"request_id": "([^"]+)"', text)
        assert answers, text[-3000:]
        request_id = answers[0]

        def offered() -> set[str]:
            return {
                r.json()["data"]["helper_id"]
                for r in phones.for_path("/siming")
                if r.json()["type"] == "push.offer"
                and r.json()["data"].get("request_id") == request_id
            }

        # Both drivers of building 3 (a critical request asks the whole ring at once).
        await phones.wait_for(lambda: len(offered()) >= 2, timeout=60)

        def welcomed() -> set[str]:
            return {
                r.json()["data"]["recipient"]
                for r in phones.for_path("/siming")
                if r.json()["data"].get("kind") == "welcome"
            }

        # Step 5: every helper of the ledger got their own welcome, on their own channel.
        await phones.wait_for(lambda: len(welcomed()) >= 3, timeout=60)
        assert '"welcomed": 3' in text, text[-3000:]

    conn = await asyncpg.connect(stack.pg_dsn)
    try:

        async def imported() -> set[str] | None:
            rows = await conn.fetch(
                "SELECT helper_id FROM helpers WHERE community_id = 'siming-tuqiang'"
            )
            return {r["helper_id"] for r in rows} if len(rows) == 3 else None

        helpers = await eventually(imported, what="the ledger's three helpers")
        # Step 2's household ledger: the household, its card, its 结对 helper from step 2's
        # volunteer ledger (by phone).
        household = await conn.fetchrow(
            "SELECT tags, paired_helper_ids, card_token FROM households "
            "WHERE community_id = 'siming-tuqiang'"
        )
        assert household is not None and household["tags"] == ["lives_alone", "aged_85_plus"]
        assert set(household["paired_helper_ids"]) < helpers
        assert f'"card_path": "/card/{household["card_token"]}"' in text
    finally:
        await conn.close()
    # The two drivers (building 3) were offered it; the plumber of building 5 was not.
    assert len(offered()) == 2 and offered() < helpers
    assert welcomed() == helpers
    secret = (tmp_path / "onboarding-tuqiang" / "tuqiang-bot.secret").read_text().strip()
    assert secret.startswith("whsec_") and secret not in text  # written to the file, not shown
    assert isinstance(json.loads(text[text.rindex('{\n  "changes"') :])["changes"], list)

    # The audit (recorded by the worker, so waited for) has every step of the guide.
    conn = await asyncpg.connect(stack.pg_dsn)
    try:

        async def audited() -> list[str] | None:
            rows = await conn.fetch(
                "SELECT kind, changes::text AS changes FROM config_audit"
                " WHERE 'siming-tuqiang' = ANY(communities)"
            )
            kinds = sorted(r["kind"] for r in rows)
            contacts = any('"contacts"' in r["changes"] for r in rows)
            return kinds if contacts and len(kinds) == 5 else None

        kinds = await eventually(audited, what="the guide's changes in the audit")
    finally:
        await conn.close()
    # the community, then its contacts; the bot; the two endpoints
    assert kinds == ["bot", "community", "community", "endpoint", "endpoint"]
