"""The remote helper's own pages agree with the group and the push when the requester left
no phone (session 41, after 701027c/dc388b0 and 11e85d0), on the real API and worker (real
Kafka and PostgreSQL); callbacks as WeCom builds them.

Before: a group bot's sender with no phone (an id and a name) was told "将在群内联系您",
while the remote helper who accepted got the page "谢谢您！请尽快致电 … 请尽快致电求助人，
电话指导" (beside no number), a button "正在打电话", and, pressed, "请直接电话指导求助人":
a call nobody could make. Now the pages send them to the requester's group; with a phone
(a sender the household ledger knows) the call is asked for as before.
"""

from __future__ import annotations

import re

import httpx

from dispatcher.api.assignment_pages import REMOTE_NO_PHONE
from tests.integration.test_platform_no_phone_s41 import KNOWN, LEDGER_PHONE, TECH, run
from tests.support import platform_flow as flow
from tests.support.remote_accept import ask_and_accept

__all__ = ["run"]  # the module's fixture: the no-phone module's scenario (helper tk, ledger)


async def _accepted_and_pressed(
    run: flow.Running, client: httpx.AsyncClient, group: str, sender: str
) -> tuple[str, str]:
    """`sender` asks in `group`; tk (remote) accepts: the accepted page, then the page
    after its first button (on-my-way) is pressed."""
    _, _, accepted = await ask_and_accept(run, client, TECH, group, sender, "tk")
    first = re.search(r'action="(/l/o/[^"]+/p/on-my-way)"', accepted)
    assert first, accepted
    pressed = await client.post(first[1])
    assert pressed.status_code == 200, pressed.text
    return accepted, pressed.text


async def test_a_remote_helper_of_a_requester_without_a_phone_is_sent_to_the_group(
    run: flow.Running,
) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        accepted, pressed = await _accepted_and_pressed(run, client, "g-extra", "stranger-page")
    assert "未留电话" in accepted and "群内@求助人" in accepted, accepted
    assert "致电" not in accepted and "打电话" not in accepted, accepted
    assert "<title>谢谢您！请在群内联系</title>" in accepted
    assert "已在群内联系" in accepted  # the button
    assert REMOTE_NO_PHONE in pressed and "电话" not in pressed.replace("未留电话", ""), pressed


async def test_with_a_phone_the_remote_helper_is_still_asked_to_call(run: flow.Running) -> None:
    async with httpx.AsyncClient(base_url=run.stack.api_url, timeout=15) as client:
        accepted, pressed = await _accepted_and_pressed(run, client, "g-edge", KNOWN)
    assert LEDGER_PHONE in accepted and "请尽快致电求助人" in accepted, accepted
    assert "正在打电话" in accepted and "群内" not in accepted, accepted
    assert "请直接电话指导求助人" in pressed, pressed
