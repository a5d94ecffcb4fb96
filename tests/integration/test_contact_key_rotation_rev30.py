"""Review 30: a contact-key rotation lost every helper's phone, name and platform user id.

Helpers live past any retention, but nothing sealed their stored profiles again under the
new key: once the old key was dropped from DISPATCH_CONTACT_KEYS_PREVIOUS (as the README
said, after the retention days), group robots could no longer @-mention them and their
offer links stopped asking for the platform login. Through the real parts: a helper is
imported under K1, every process is rotated to K2 (K1 previous), `reseal-helpers` runs
until none is left, K1 is dropped, and the helper's phone, name and platform id, read back
from the workers' table, still open."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from dispatcher.helper_ids import id_key, keyed_helper_id
from dispatcher.maintenance.helper_table import read_helper_states
from dispatcher.sealing import keyring
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack
from schemas.helpers import HelperProfile
from tests.support.helper_contact import opened, reseal
from tests.support.waiting import eventually

C = "comm-key-rotation"
K1, K2 = "contact-key-one-" + "a" * 32, "contact-key-two-" + "b" * 32
PHONE, NAME, USER = "13800000301", "陈师傅", "wx-chen"
LEDGER = f"姓名,电话,小区编号,小区,楼栋,平台账号\n{NAME},{PHONE},c2,二号小区,5号楼,{USER}\n"
STAFF = {"Authorization": "Bearer dev-staff-token", "content-type": "text/csv; charset=utf-8"}
ROTATED = {"DISPATCH_CONTACT_KEY": K2, "DISPATCH_CONTACT_KEYS_PREVIOUS": json.dumps([K1])}
DROPPED = {"DISPATCH_CONTACT_KEY": K2, "DISPATCH_CONTACT_KEYS_PREVIOUS": "[]"}


async def stored_profile(settings: Settings, helper_id: str) -> HelperProfile | None:
    states = await read_helper_states(settings)
    return next((s.profile for s in states if s.helper_id == helper_id), None)


@pytest.fixture(scope="module")
async def stack_k1(stack: LocalStack) -> LocalStack:
    stack.extra_env = {"DISPATCH_CONTACT_KEY": K1}
    return stack


async def test_helpers_sealed_before_a_rotation_still_open_after_the_old_key_is_dropped(
    stack_k1: LocalStack,
) -> None:
    stack = stack_k1
    worker = stack.start_worker()
    api = await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
        r = await client.post(
            f"/v1/admin/communities/{C}/roster", content=LEDGER.encode(), headers=STAFF
        )
        assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    helper_id = keyed_helper_id(id_key(stack.settings()), C, PHONE)
    under_k1 = keyring(stack.settings()).active_kid

    async def sealed_under_k1() -> HelperProfile | None:
        p = await stored_profile(stack.settings(), helper_id)
        return p if p is not None and p.sealed_phone is not None else None

    before = await eventually(sealed_under_k1, what="the helper in the workers' table")
    assert before.sealed_phone is not None and before.sealed_phone.kid == under_k1

    # Rotation: every process restarted with K2 active and K1 previous.
    api.stop()
    worker.stop()
    stack.extra_env = ROTATED
    stack.start_worker()
    rotated = stack.settings(contact_keys_previous=[K1])  # (as the environment says)
    assert opened(rotated, before) == (PHONE, NAME, USER)
    status, pending = reseal(stack, "--dry-run")
    assert (status, pending["to_reseal"], pending["left"]) == (1, 1, 1), pending  # not yet

    status, report = reseal(stack, "--wait", "180")
    assert status == 0, report
    assert (report["sent"], report["left"], report["unreadable"]) == (1, 0, []), report

    # K1 dropped: the helper's phone, name and platform id still open.
    stack.extra_env = DROPPED
    dropped = stack.settings(contact_keys_previous=[])
    assert dropped.contact_key.get_secret_value() == K2
    after = await stored_profile(dropped, helper_id)
    assert after is not None and after.sealed_phone is not None
    assert after.sealed_phone.kid == keyring(dropped).active_kid
    assert opened(dropped, after) == (PHONE, NAME, USER)
    assert opened(dropped, before) == (None, "", None)  # what the rotation lost before
    # Under the final configuration nothing needs the dropped key, nothing is unreadable.
    status, final = await asyncio.to_thread(reseal, stack, "--dry-run")
    assert (status, final["to_reseal"], final["left"], final["unreadable"]) == (0, 0, 0, [])
