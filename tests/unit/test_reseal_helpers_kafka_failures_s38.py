"""`python -m dispatcher reseal-helpers` when the helper table cannot be read: one line on
stderr saying why and exit 69 (EX_UNAVAILABLE, as `topics` and `phone-keys`), never an
aiokafka traceback with exit 1 (which is also the status for "helpers left to write").

Two causes: no changelog topic (a wrong DISPATCH_APP_ID, or no worker ever ran: aiokafka's
consumer start raises UnknownTopicOrPartitionError once its metadata wait runs out, ~40 s
on the real broker, stood in for here by a consumer that raises it at once), and no broker
(a loopback port bound by this test and not listening: the connection is refused;
aiokafka logs its own line about it besides, as for `phone-keys` and `topics`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka.errors import UnknownTopicOrPartitionError

from dispatcher.maintenance import helper_table, reseal_helpers
from dispatcher.settings import REPO_ROOT, Settings

APP_ID = "no-such-app-s38"


class _NoTopicConsumer:
    def __init__(self, *topics: str, **options: Any) -> None:
        self.topics = topics

    async def start(self) -> None:
        raise UnknownTopicOrPartitionError()

    async def stop(self) -> None:
        pass


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nobody listens on, held for the test (bound, never listening)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


def test_no_helper_table_is_one_line_and_69(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(app_id=APP_ID)
    monkeypatch.setattr(helper_table, "AIOKafkaConsumer", _NoTopicConsumer)
    monkeypatch.setattr(reseal_helpers, "get_settings", lambda: settings)
    assert reseal_helpers.main(["--dry-run"]) == 69
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("reseal-helpers: ")
    assert f"{APP_ID}-helpers-changelog" in line
    assert f"DISPATCH_APP_ID={APP_ID}" in line


def test_kafka_away_is_one_line_and_69(closed_port: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env |= {"DISPATCH_MODE": "dev", "DISPATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{closed_port}"}
    r = subprocess.run(
        [sys.executable, "-m", "dispatcher", "reseal-helpers", "--dry-run"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 69, r.stderr[-2000:]
    assert r.stdout == ""
    assert "Traceback" not in r.stderr, r.stderr
    # aiokafka logs its own line about the connection besides (as for `phone-keys`, `topics`)
    [said] = [line for line in r.stderr.splitlines() if line.startswith("reseal-helpers:")]
    assert said.startswith(f"reseal-helpers: Kafka at 127.0.0.1:{closed_port} not reachable")
