from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.stack import LocalStack, ensure_stack_up


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
async def e2e_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalStack]:
    """An isolated namespace on the real local Kafka and PostgreSQL (see tests/support)."""
    ensure_stack_up()
    root: Path = tmp_path_factory.mktemp("stack")
    s = LocalStack(root=root)
    await s.create()
    try:
        yield s
    finally:
        await s.drop()
