"""An invite that expires while the resident fills in the join form (audit s38, finding 5)
says that nothing was submitted and a new link is needed. Before, it said "链接已过期 …
无需再操作。谢谢您的热心！" (the wording written for help offers) and stored nothing: the
volunteer believed they had signed up. Through the real API and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support.signups import join_path

A = "s38-expired"
JOIN_EXPIRED = "邀请链接已过期，您的信息未提交，请向社区索取新的邀请链接"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> LocalStack:
    await stack.start_api()
    return stack


async def test_an_invite_that_expired_while_the_form_was_filled_says_nothing_was_submitted(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    before = await db.fetchval("SELECT count(*) FROM helper_registrations")
    # Minted already expired: what a resident meets who opened the form within its validity
    # and pressed submit after it (verify_invite reads the API's clock at the POST).
    path = join_path(api, A, expires_in=-timedelta(minutes=1))
    form = {"name": "赵大妈", "phone": "13700001234", "building": "3号楼", "channel": ""}
    sent = await client.post(path, data=form)
    assert sent.status_code == 410, sent.text
    assert JOIN_EXPIRED in sent.text and "邀请链接已过期" in sent.text
    assert "无需再操作" not in sent.text and "谢谢您的热心" not in sent.text
    opened = await client.get(path)  # opening it later says the same
    assert opened.status_code == 410 and JOIN_EXPIRED in opened.text
    assert await db.fetchval("SELECT count(*) FROM helper_registrations") == before
    # A link that was edited is still "链接无效", not the expiry text.
    edited = await client.post(path[:-2] + ("AA" if not path.endswith("AA") else "BB"), data=form)
    assert edited.status_code == 400 and JOIN_EXPIRED not in edited.text
