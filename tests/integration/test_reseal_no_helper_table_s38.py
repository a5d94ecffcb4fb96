"""`python -m dispatcher reseal-helpers --dry-run` (and `rekey-helpers`, `phone-keys`, which
read the same table: before, rekey-helpers ended in a traceback and phone-keys said Kafka was
"not reachable") against the real broker with an app id
whose helper table (changelog topic) is not there: one line of its own naming the topic and
DISPATCH_APP_ID, exit 69, and no wait for the topic to appear (before: aiokafka's consumer
waited for it, logging "not found in cluster metadata" about every 100 ms for its 40 s
request timeout, then a traceback and exit 1, the status that means "helpers left").

The broker's auto.create.topics.enable is false (deploy/local/server.properties.template):
asking about the topic creates nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest

from dispatcher.settings import REPO_ROOT
from dispatcher.testing.stack import BASE_PG, default_kafka_bootstrap, default_pg_port


@pytest.mark.parametrize("tool", ["reseal-helpers", "rekey-helpers", "phone-keys"])
async def test_no_helper_table_is_one_line_and_69(_stack_running: None, tool: str) -> None:
    app_id = f"no-helpers-s38-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {
        "DISPATCH_MODE": "dev",
        "DISPATCH_KAFKA_BOOTSTRAP": default_kafka_bootstrap(),
        "DISPATCH_APP_ID": app_id,
        # The stack's database (rekey-helpers and phone-keys connect to PostgreSQL first).
        "DISPATCH_PG_DSN": BASE_PG.format(port=default_pg_port(), db="dispatch"),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dispatcher", tool, "--dry-run"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 69, done.stderr[-3000:]
    assert done.stdout == ""
    # Nothing else: no traceback, and no warnings from waiting for the topic (phone-keys
    # first says what it reads).
    said = [line for line in done.stderr.splitlines() if not line.startswith("phone-keys: read")]
    assert said == [
        f"{tool}: no topic {app_id}-helpers-changelog on Kafka at "
        f"{default_kafka_bootstrap()}: no worker has run with DISPATCH_APP_ID={app_id} "
        "(is it the workers' app id?)"
    ]
