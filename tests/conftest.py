"""Fixtures shared by the integration, security and e2e suites: the real local stack and
one isolated namespace per test module on it (dispatcher/testing/stack.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from dispatcher.redact import fold_digits
from dispatcher.testing.stack import LocalStack, ensure_stack_up
from tests.support.bot import TEST_BOT


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark by directory: `-m integration`, `-m e2e` select a suite."""
    for item in items:
        for suite in ("integration", "e2e"):
            if f"tests/{suite}/" in str(item.fspath):
                item.add_marker(getattr(pytest.mark, suite))


@pytest.fixture(scope="session")
def _stack_running() -> None:
    ensure_stack_up()


def new_stack(root: Path) -> LocalStack:
    """A namespace whose API accepts the test bot (tests/support/bot.py)."""
    return LocalStack(root=root, bot=TEST_BOT)


@pytest.fixture(scope="module")
async def stack(
    _stack_running: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LocalStack]:
    """An isolated namespace on the real local Kafka and PostgreSQL; the test starts the
    worker and API it needs."""
    s = new_stack(tmp_path_factory.mktemp("stack"))
    await s.create()
    try:
        yield s
    finally:
        await s.drop()


# A module that defines `api` (its namespace with a worker and the API running, seeded as
# it needs) gets an HTTP client and a PostgreSQL connection to it from these.
@pytest.fixture
async def client(api: LocalStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.api_url, timeout=30) as c:
        yield c


@pytest.fixture
async def db(api: LocalStack) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(api.pg_dsn)
    try:
        yield conn
    finally:
        await conn.close()


# Finding 4 of issue 12: no process of the suite may log a phone number. Every API and
# worker log the harness wrote this session is read at the end; a hit fails the session.
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# Generated ids are not phones: a uuid (aiokafka's member ids in the broker's log,
# "aiokafka-0.14.0-090216f9-9041-42fa-ac3b-b19905300843") or a uuid4().hex can hold eleven
# decimal digits starting 1[3-9] by chance; they are taken out before the search.
HEX_ID = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|(?=[0-9a-f]*[a-f])[0-9a-f]{32})(?![0-9A-Za-z])",
    re.IGNORECASE,
)


def phones_in_logs(root: Path) -> list[str]:
    hits = []
    for log in sorted(root.rglob("*.log")):
        if "faust" in log.relative_to(root).parts:
            continue  # Faust's data dir: RocksDB's write-ahead files are table data, not logs
        for n, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            # Folded first: a phone in full-width, circled or other digits is one too.
            if PHONE.search(HEX_ID.sub("-", fold_digits(line))):
                hits.append(f"{log}:{n}: {line[:200]}")
    return hits


@pytest.fixture(scope="session", autouse=True)
def _no_phone_in_any_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    hits = phones_in_logs(tmp_path_factory.getbasetemp())
    assert not hits, "phone numbers in process logs:\n" + "\n".join(hits[:20])
