"""Finding 7: personal data kept forever. A request is opened, accepted and resolved
through the real parts; the purge keeps its contact while the retention runs and erases
contact, exact place and free text once it is over. The topics that carry personal data
are created with a bounded retention.ms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from dispatcher.testing.stack import LocalStack
from schemas.commands import AcceptOffer, ResolveRequest
from schemas.vocab import Party
from tests.security.cli import run_json
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.kafka import CommandProducer
from tests.support.sealed import opened
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "sec-retention"


def purge(stack: LocalStack, now: datetime) -> dict[str, int]:
    return run_json(stack, "purge", "--now", now.isoformat())


async def test_contacts_are_erased_after_the_retention(stack: LocalStack) -> None:
    stack.bot_communities.add(COMMUNITY)
    stack.start_worker("worker-retention")
    await stack.start_api()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        h = builders.helper("ret-1", COMMUNITY, ["driving"])
        assert (await client.put("/v1/admin/helpers/ret-1", json=h, headers=STAFF)).is_success
        r = await BotClient(client).post("/v1/requests", builders.request(COMMUNITY))
        assert r.status_code == 202, r.text
        request_id = r.json()["request_id"]
    conn = await asyncpg.connect(stack.pg_dsn)
    try:

        async def offer() -> asyncpg.Record | None:
            return await conn.fetchrow("SELECT * FROM offers WHERE request_id = $1", request_id)

        offer_id = (await eventually(offer, what="the offer"))["offer_id"]
        topic = stack.env()["DISPATCH_COMMANDS_TOPIC"]
        async with CommandProducer(stack.kafka_bootstrap, topic) as p:
            await p.send(
                AcceptOffer(request_id=request_id, offer_id=offer_id, helper_id="ret-1"),
                COMMUNITY,
            )

            async def private() -> asyncpg.Record | None:
                return await conn.fetchrow(
                    "SELECT * FROM request_private WHERE request_id = $1", request_id
                )

            row = await eventually(private, what="the private row of the assignment")
            # What the purge must erase: kept sealed, opened only by the answer page.
            assert "13912345678" not in row["contact"]
            assert opened(stack, request_id, row).contact.phone == "13912345678"
            await p.send(
                ResolveRequest(request_id=request_id, by=Party.HELPER, helper_id="ret-1"),
                COMMUNITY,
            )

        async def closed() -> datetime | None:
            value = await conn.fetchval(
                "SELECT closed_at FROM requests WHERE request_id = $1", request_id
            )
            return value if isinstance(value, datetime) else None

        closed_at = await eventually(closed, what="the request closed")
        # During the retention: scheduled, nothing erased.
        purge(stack, datetime.now(UTC))
        row = await private()
        assert row is not None and opened(stack, request_id, row).contact.phone == "13912345678"
        assert row["purge_after"] == closed_at + timedelta(days=30)
        # After it: contact, exact place and free text are gone; the request's counts stay.
        counts = purge(stack, closed_at + timedelta(days=30, seconds=1))
        assert counts["requests"] >= 1
        row = await private()
        assert row is not None
        assert json.loads(row["contact"]) == {} and json.loads(row["place"]) == {}
        assert row["text"] == "" and row["sealed"] is None
        outcome = await conn.fetchval(
            "SELECT outcome FROM requests WHERE request_id = $1", request_id
        )
        assert outcome == "resolved"
        # The API's own copy of the command (with the contact) is gone too.
        kept = await conn.fetchval(
            "SELECT count(*) FROM api_intake WHERE command IS NOT NULL AND command::text LIKE $1",
            "%13912345678%",
        )
        assert kept == 0
    finally:
        await conn.close()


async def test_offer_link_bindings_go_once_no_link_can_use_them(stack: LocalStack) -> None:
    """A device binding outlives no offer link it guards (links live 30 days at most)."""
    now = datetime(2026, 12, 2, tzinfo=UTC)
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        for offer_id, age in (("o-old", timedelta(days=31)), ("o-live", timedelta(days=29))):
            await conn.execute(
                "INSERT INTO offer_device_bindings (offer_id, helper_id, device_hash, bound_at)"
                " VALUES ($1, 'h-1', 'x', $2)",
                offer_id,
                now - age,
            )
        assert purge(stack, now)["offer_bindings"] == 1
        left = await conn.fetch("SELECT offer_id FROM offer_device_bindings")
        assert [r["offer_id"] for r in left] == ["o-live"]
    finally:
        await conn.close()


async def test_topics_with_personal_data_have_a_bounded_retention(stack: LocalStack) -> None:
    env = stack.env()
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        names = [env["DISPATCH_COMMANDS_TOPIC"], env["DISPATCH_EVENTS_TOPIC"]]
        names.append(env["DISPATCH_DEAD_LETTER_TOPIC"])
        changelogs = [f"{stack.app_id}-{t}-changelog" for t in ("requests", "helpers")]
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names + changelogs]
        )
    finally:
        await admin.close()
    found = {}
    for response in described:
        for resource in response.resources:
            name = resource[3]
            configs = {c[0]: c[1] for c in resource[4]}
            key = "max.compaction.lag.ms" if name in changelogs else "retention.ms"
            found[name] = configs.get(key)
    # The changelogs keep each key's latest record: older ones (a request's sealed contact
    # before the tombstone that follows its close) are compacted away within the bound.
    assert found == {n: str(7 * 24 * 3600 * 1000) for n in names + changelogs}
