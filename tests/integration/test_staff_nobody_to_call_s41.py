"""A critical request in a community with no helpers and nobody on its whistle list (no
duty or grid worker endpoint, no configured contact, no staff on duty), through the real
stack (Kafka, PostgreSQL, the worker and the API as processes). The whistle and the
referral call nobody: the notify agent reports each as a call that reached none (recipients
0), so the core climbs to the referral at once rather than after the whistle's 120 s, and
the dashboard flags the request "值班人员未联系上". Before (session 41 audit), a call of
nobody was not reported at all: no `staff_not_reached`, the referral two minutes after the
whistle, and the dashboard silent, while the same staff configured but unreachable was
flagged and climbed at once (tests/integration/test_staff_not_reached.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.push_receiver import PushReceiver, ok
from dispatcher.testing.stack import LocalStack
from tests.support.staff_calls import SECRET, both_calls_lost, dashboard_row, running

COMMUNITY = "nobody-on-duty"  # no helpers: every ring is empty, the whistle blows at once


def _default_only(receiver: PushReceiver) -> list[dict[str, str]]:
    """One endpoint, so pushing is on, but none of the community's list: a helper's
    default webhook that takes everything."""
    receiver.set_default("/default", ok())
    url = receiver.url("/default")
    return [{"name": "default", "kind": "webhook", "url": url, "secret": SECRET}]


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    async with running(stack, COMMUNITY, _default_only) as started:
        yield started


async def test_a_whistle_and_referral_with_nobody_to_call_are_flagged_and_climb_at_once(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # Both reported, the referral well inside the whistle's 120 s (checked there): before
    # the fix neither came, and the referral only after the whole wait.
    request_id, whistle, referral = await both_calls_lost(client, db, COMMUNITY)
    assert (whistle["rung"], whistle["recipients"]) == ("whistle", 0)
    assert (referral["rung"], referral["recipients"]) == ("referral", 0)
    assert whistle.get("roles", []) == []

    row = await dashboard_row(client, request_id)
    assert row["staff_unreached"] == "referral" and row["status"] == "open"
