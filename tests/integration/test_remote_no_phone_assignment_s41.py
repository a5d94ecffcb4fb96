"""A remote helper of a platform sender with no phone is pushed no call to make, on the real
API and worker (real Kafka and PostgreSQL); callbacks as WeCom builds them (session 41,
after 701027c/dc388b0).

Before: the group heard "一位邻居已接单，将在群内联系您。" while the helper who accepted was
pushed "请尽快致电求助人，电话指导，无需前往" beside "联系人：…（未留电话）". Now the push
sends the helper to the group the request came from, as the group is told.
"""

from __future__ import annotations

import httpx

from tests.integration.test_platform_no_phone_s41 import (  # noqa: F401 - `run`: the fixture
    KNOWN,
    _pushed,
    _tk_accepts_and_calls,
    run,
)
from tests.support import platform_flow as flow


async def test_the_helper_of_a_sender_with_no_phone_is_sent_to_the_group(
    run: flow.Running,  # noqa: F811 - the imported fixture
) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid, _ = await _tk_accepts_and_calls(run, client, "g-extra", "stranger-2")
    [pushed] = _pushed(run, rid, "assignment")
    text, title = str(pushed["text"]), str(pushed.get("title", ""))
    # Old code: "接单成功，请尽快致电" / "请尽快致电求助人，电话指导，无需前往".
    assert "致电" not in text + title, (title, text)
    assert "求助人未留电话，请在求助的群内@求助人联系" in text, text
    await flow.wait_for_text(run.platform, "g-extra", "一位邻居已接单，将在群内联系您。")


async def test_with_the_ledgers_phone_the_helper_is_still_asked_to_call(
    run: flow.Running,  # noqa: F811 - the imported fixture
) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        rid, _ = await _tk_accepts_and_calls(run, client, "g-edge", KNOWN)
    [pushed] = _pushed(run, rid, "assignment")
    assert "请尽快致电求助人，电话指导" in str(pushed["text"]), pushed
    assert "群内@求助人" not in str(pushed["text"]), pushed
