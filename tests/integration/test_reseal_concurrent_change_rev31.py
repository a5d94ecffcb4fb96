"""Review 31: `reseal-helpers` raced a change to the same helper.

It read the workers' helper table, then sent an UpsertHelper of each profile it had read,
sealed again: a ledger import (or a self-registration) applied between its read and that
command was undone, the helper's new name and platform account replaced by the old ones.
Through the real parts: a helper is imported under K1, every process is rotated to K2,
and `reseal-helpers` runs with the ledger's change made, and applied by the worker, right
after its read (the tool's own read, the real import, the real worker). The new name and
platform id stay, and the profile ends up under K2 with nothing left to reseal."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dispatcher.helper_ids import id_key, keyed_helper_id
from dispatcher.maintenance import reseal_helpers
from dispatcher.maintenance.helper_table import read_helper_states
from dispatcher.sealing import keyring
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack
from schemas.helpers import HelperProfile
from schemas.records import HelperState
from tests.support.helper_contact import opened
from tests.support.waiting import eventually

C = "comm-reseal-race"
K1, K2 = "contact-key-one-" + "c" * 32, "contact-key-two-" + "d" * 32
PHONE = "13800000331"
BEFORE, AFTER = ("吴师傅", "wx-wu"), ("吴建军", "wx-wujj")
HEAD = "姓名,电话,小区编号,小区,楼栋,平台账号\n"
STAFF = {"Authorization": "Bearer dev-staff-token", "content-type": "text/csv; charset=utf-8"}
ROTATED = {"DISPATCH_CONTACT_KEY": K2, "DISPATCH_CONTACT_KEYS_PREVIOUS": json.dumps([K1])}


def ledger(name: str, user: str) -> bytes:
    return (HEAD + f"{name},{PHONE},c2,二号小区,5号楼,{user}\n").encode()


async def import_ledger(stack: LocalStack, name: str, user: str) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
        r = await client.post(
            f"/v1/admin/communities/{C}/roster", content=ledger(name, user), headers=STAFF
        )
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text


async def stored(settings: Settings, helper_id: str) -> HelperProfile | None:
    states = await read_helper_states(settings)
    return next((s.profile for s in states if s.helper_id == helper_id), None)


async def named(settings: Settings, helper_id: str, name: str) -> HelperProfile | None:
    profile = await stored(settings, helper_id)
    return profile if profile is not None and opened(settings, profile)[1] == name else None


@pytest.fixture(scope="module")
async def rotated(stack: LocalStack) -> LocalStack:
    """The helper imported under K1, then every process restarted under K2 (K1 previous)."""
    stack.extra_env = {"DISPATCH_CONTACT_KEY": K1}
    worker = stack.start_worker()
    api = await stack.start_api()
    await import_ledger(stack, *BEFORE)
    helper_id = keyed_helper_id(id_key(stack.settings()), C, PHONE)
    await eventually(lambda: named(stack.settings(), helper_id, BEFORE[0]), what="the import")
    api.stop()
    worker.stop()
    stack.extra_env = ROTATED
    stack.start_worker()
    await stack.start_api()
    return stack


async def test_a_ledger_change_made_while_reseal_helpers_runs_is_kept(
    rotated: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = rotated
    settings = stack.settings(contact_keys_previous=[K1])  # (as the environment says)
    helper_id = keyed_helper_id(id_key(settings), C, PHONE)
    read = read_helper_states  # what the tool calls (dispatcher.maintenance.helper_table)
    first_read: list[list[HelperState]] = []

    async def read_then_change(s: Settings) -> list[HelperState]:
        """The tool's read; on its first, the ledger's change lands before it goes on."""
        states = await read(s)
        if not first_read:
            first_read.append(states)
            await import_ledger(stack, *AFTER)
            await eventually(lambda: named(s, helper_id, AFTER[0]), what="the ledger change")
        return states

    monkeypatch.setattr(reseal_helpers, "read_helper_states", read_then_change)
    report: dict[str, Any] = await reseal_helpers.run(settings, dry_run=False, wait_s=180)

    [states] = first_read
    [before] = [s.profile for s in states if s.helper_id == helper_id]
    assert opened(settings, before) == (PHONE, *BEFORE)  # what the tool read: the old name
    # Applied to the worker's state: the ledger's change stays (it was undone before).
    after = await stored(settings, helper_id)
    assert after is not None
    assert opened(settings, after) == (PHONE, *AFTER)
    assert after.sealed_phone is not None and after.sealed_phone.kid == keyring(settings).active_kid
    assert (report["to_reseal"], report["left"], report["unreadable"]) == (1, 0, []), report
    # Nothing is left for a next run; the marker household went as it came.
    [state] = [s for s in await read_helper_states(settings) if s.helper_id == helper_id]
    assert state.household_pairs == ()
    plan = reseal_helpers.plan_reseals([state], keyring(settings))
    assert (plan.stale, plan.retired, plan.unreadable) == ([], [], [])
