"""Attack (session 41 audit): a forged "不用了，谢谢" cancels someone's request through a
Feishu app without an Encrypt Key.

Such an app signs nothing and carries its Verification Token in every body, so whoever has
seen one callback of the group can write an event as Feishu would. The attack: take a body
three days old, give it a new message id and the requester's open_id, and post it. Feishu's
own SDK (set up as such an app) takes it; before session 41 the API did too, and cancelled
the requester's open request. Now an unsigned event is read only while its
`header.create_time` is within 5 minutes (401 `stale`), and nothing is cancelled.

Such a bot loads only in dev mode (as here: the test stack runs DISPATCH_MODE=dev); outside
it the bots file is refused at load (tests/security/test_feishu_unsigned_config_s41.py).
Real API and worker on the local Kafka and PostgreSQL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.integration.test_platform_feishu import Feishu
from tests.integration.test_platform_feishu_fixes import events_of
from tests.support import platform_callbacks as pc
from tests.support import platform_flow as flow
from tests.support.feishu_unsigned import DAY_S, created_at, lark_accepts_plain, plain_callback
from tests.support.platform_callbacks import Callback
from tests.support.waiting import eventually

ERRAND = "谁能帮我去药店买点感冒药？我在家走不开"
REQUESTER = "ou_the_requester"


class FeishuUnsigned(Feishu):
    """The same app, configured without an Encrypt Key: Feishu posts the plain event."""

    bot_id = "feishu-unsigned"

    def platform_doc(self) -> dict[str, Any]:
        doc = super().platform_doc()
        del doc["encrypt_key"]
        return doc

    def message(self, text: str, msg_id: str, group: str, sender: str = "resident-1") -> Callback:
        self.asked.setdefault(group, set()).add(msg_id)
        doc = pc.feishu_event(text, msg_id, sender=sender, chat=self.group_id(group))
        cb = plain_callback(doc)
        assert lark_accepts_plain(cb)  # Feishu's own handler takes it
        return cb


@pytest.fixture(scope="module")
async def run(stack: LocalStack) -> AsyncIterator[flow.Running]:
    async for running in flow.start(stack, FeishuUnsigned):
        yield running


async def test_a_three_day_old_cancel_with_a_new_message_id_cancels_nothing(
    run: flow.Running,
) -> None:
    p, group = run.platform, "g-main"
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        r = await run.send(client, p.message(ERRAND, f"om_{uuid.uuid4().hex}", group, REQUESTER))
        assert r.status_code == 200 and r.json()["is_request"], r.text
        errand = r.json()["request_id"]
        await eventually(lambda: events_of(run, errand), what="the errand recorded")

        # The attack: an old body of the group, a new message id, the requester's open_id.
        doc = pc.feishu_event("不用了，谢谢", f"om_{uuid.uuid4().hex}", sender=REQUESTER)
        doc["event"]["message"]["chat_id"] = p.group_id(group)
        forged = plain_callback(created_at(doc, time.time() - 3 * DAY_S))
        assert lark_accepts_plain(forged)  # indistinguishable from Feishu's own
        refused = await run.send(client, forged)
        assert refused.status_code == 401, refused.text
        assert refused.json()["detail"]["reason"] == "stale"

        # The errand lives on: its group heard back, and no cancel was recorded.
        await flow.wait_texts(p, group, 1)
        assert "request_cancelled" not in await events_of(run, errand)

        # The control: the requester's own "不用了，谢谢", made now, does cancel it. Only the
        # forged one's age kept it out.
        r = await run.send(
            client, p.message("不用了，谢谢", f"om_{uuid.uuid4().hex}", group, REQUESTER)
        )
        assert r.status_code == 200, r.text
        assert not r.json()["is_request"] and r.json()["cancelled"] == errand

        async def cancelled() -> bool:
            return "request_cancelled" in await events_of(run, errand)

        assert await eventually(cancelled, what="the errand cancelled by its requester")
        assert (await events_of(run, errand)).count("request_cancelled") == 1
