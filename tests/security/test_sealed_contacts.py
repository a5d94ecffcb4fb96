"""Finding 7, the contacts in Kafka: a requester's name, phone and address (and the free
text that may repeat them), the place below the building (unit, floor, household), and a
helper's phone, name and platform user id travel only sealed or keyed
(dispatcher/sealing.py).

The attack: someone who can read the broker (a backup of its log, an over-broad ACL, a
consumer group left behind) reads every record of every topic - commands, events, dead
letters and the worker's table changelogs. A request with a known contact goes in through
the real API, the real worker offers it, the helper accepts through the link in their push;
then the whole broker is read raw and none of the personal strings may appear, in UTF-8 or
JSON-escaped. The helper who accepted still gets them: in the assignment push (a real local
HTTP receiver) and on the answer page.

A command from before (plain contact, already in a topic) is still handled: the worker
seals it on decode, so its events and table changelog never hold the contact in the clear.

A household from the ledger (its id names the family, its contact card the person) asks
through its card: its paired helper is still asked first (households compare as keyed
digests), the card's contact reaches the one who accepts, and no topic holds any of it.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dispatcher.links import verify_token
from dispatcher.testing.push_receiver import PushReceiver
from dispatcher.testing.stack import LocalStack
from schemas.commands import SubmitRequest, WelcomeHelper, new_command
from schemas.requests import RequesterContact, RequestSpec
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.kafka import CommandProducer
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OQ=="
COMMUNITY = "sec-sealed"
NAME = "林秀英"
PHONE = "13912340077"
ADDRESS = "翠竹园7号楼3单元1202室"
TEXT = "我住翠竹园7号楼3单元1202室，老伴胸口疼，谁能开车送医院？"
HELPER_PHONE = "13755550123"
HELPER_NAME = "周建国"
PLATFORM_USER = "wx-zhou-jianguo-77"
HOUSEHOLD = "hh-lin-xiuying-1202"  # a household id as a ledger may write it
HELPER_HOME = "hh-zhou-jianguo"
PERSONAL = (NAME, PHONE, ADDRESS, TEXT, HELPER_PHONE, HELPER_NAME, PLATFORM_USER)
PLACES = (HOUSEHOLD, HELPER_HOME)
# A place below the building, in any record: `"unit": "2"` or `"floor": 5` (JSON with or
# without spaces); null is what every place now carries.
PLACE_DETAIL = re.compile(rb'"(unit|floor)":\s*(?!null)\S')


def spellings(value: str) -> list[bytes]:
    """How a string can sit in a record: UTF-8 (pydantic's JSON), or JSON's \\u escapes
    (json.dumps, which the table changelogs use), in either hex case."""
    escaped = json.dumps(value)[1:-1]
    return list({value.encode(), escaped.encode(), escaped.upper().replace("\\U", "\\u").encode()})


async def read_everything(stack: LocalStack) -> dict[str, list[bytes]]:
    """Every record (key, value and headers) of every topic of this namespace, raw."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        topics = sorted(
            t
            for t in await admin.list_topics()
            if t.startswith(stack.ns + ".") or t.startswith(stack.app_id)
        )
        parts = [
            TopicPartition(d["topic"], p["partition"])
            for d in await admin.describe_topics(topics)
            for p in d["partitions"]
        ]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        found: dict[str, list[bytes]] = {t: [] for t in topics}

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in parts])

        async with asyncio.timeout(60):
            while await behind():
                for tp, msgs in (await consumer.getmany(timeout_ms=500)).items():
                    for m in msgs:
                        raw = (m.key or b"") + b"\n" + (m.value or b"")
                        raw += b"".join(k.encode() + v for k, v in m.headers or ())
                        found[tp.topic].append(raw)
        return found
    finally:
        await consumer.stop()


def leaks(found: dict[str, list[bytes]], values: tuple[str, ...]) -> list[str]:
    return [
        f"{topic}: {value!r}"
        for topic, records in found.items()
        for value in values
        if any(s in r for r in records for s in spellings(value))
    ]


def details(found: dict[str, list[bytes]]) -> list[str]:
    """Records that hold a unit or a floor in the clear."""
    return [
        f"{topic}: {r[max(0, m.start() - 300) : m.end() + 40]!r}"
        for topic, records in found.items()
        for r in records
        if (m := PLACE_DETAIL.search(r))
    ]


def pushes(receiver: PushReceiver, helper_id: str, kind: str) -> list[dict[str, object]]:
    return [
        r.json()["data"]
        for r in receiver.for_path("/phones")
        if r.json()["data"].get("recipient") == helper_id and r.json()["data"].get("kind") == kind
    ]


@pytest.fixture(scope="module")
async def phones(stack: LocalStack) -> AsyncIterator[PushReceiver]:
    async with PushReceiver() as receiver:
        endpoints = [
            {"name": "phones", "kind": "webhook", "url": receiver.url("/phones"), "secret": SECRET}
        ]
        stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps(endpoints)
        stack.bot_communities.add(COMMUNITY)
        stack.start_worker("worker-sealed")
        await stack.start_api()
        stack.extra_env.pop(
            "DISPATCH_PUSH_ENDPOINTS"
        )  # read at start; stack.settings() takes no JSON
        yield receiver


async def accept_through_the_link(
    stack: LocalStack, phones: PushReceiver, helper: httpx.AsyncClient, helper_id: str
) -> str:
    """The helper opens the accept link of their offer push and presses the button; the
    answer page, refreshed on the same phone, returns once it shows the contact."""
    await phones.wait_for(lambda: bool(pushes(phones, helper_id, "offer")), timeout=60)
    offer = pushes(phones, helper_id, "offer")[0]
    path = httpx.URL(str(offer["accept_url"])).raw_path.decode()
    assert (await helper.get(path)).status_code == 200  # the confirmation page
    assert (await helper.post(path)).status_code in (200, 202)

    async def page() -> str | None:
        text = (await helper.get(path)).text
        return text if PHONE in text else None

    return await eventually(page, what="the contact on the accepting phone", timeout=60)


async def test_no_topic_holds_a_contact_yet_the_accepting_helper_sees_it(
    stack: LocalStack, phones: PushReceiver
) -> None:
    helper = httpx.AsyncClient(base_url=stack.api_url, timeout=15)  # the helper's phone
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        h = builders.helper(
            "s1",
            COMMUNITY,
            ["driving"],
            channels=["phones"],
            phone=HELPER_PHONE,
            name=HELPER_NAME,
            platform_user_id=PLATFORM_USER,
            place=builders.place(COMMUNITY, unit="1", floor=3, household_id=HELPER_HOME),
        )
        assert (await helper.put("/v1/admin/helpers/s1", json=h, headers=STAFF)).status_code == 202
        body = builders.request(
            COMMUNITY,
            contact={"name": NAME, "phone": PHONE, "address": ADDRESS},
            text=TEXT,
            place=builders.place(COMMUNITY, unit="2", floor=5, household_id=HOUSEHOLD),
        )
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as bot:
            r = await BotClient(bot).post("/v1/requests", body)
        assert r.status_code == 202, r.text
        request_id = r.json()["request_id"]

        # The helper's own link was made with their platform user id (opened by the worker:
        # where the community has a platform login, only that user may act on it).
        await phones.wait_for(lambda: bool(pushes(phones, "s1", "offer")), timeout=60)
        token = str(pushes(phones, "s1", "offer")[0]["accept_url"]).rsplit("/", 1)[-1]
        claims = verify_token(stack.settings(), token, datetime.now(UTC))
        assert claims.platform_user_id == PLATFORM_USER
        page = await accept_through_the_link(stack, phones, helper, "s1")
        assert NAME in page and ADDRESS in page and "胸口疼" in page
        assert "2单元5层" in page  # the unit and floor, from the box
        await phones.wait_for(lambda: bool(pushes(phones, "s1", "assignment")), timeout=60)
        assignment = str(pushes(phones, "s1", "assignment")[0]["text"])
        assert PHONE in assignment and ADDRESS in assignment and NAME in assignment

        # Everything the broker holds, once the worker's table has the assignment.
        async def settled() -> dict[str, list[bytes]] | None:
            found = await read_everything(stack)
            changelog = found.get(f"{stack.app_id}-requests-changelog", [])
            mine = [r for r in changelog if request_id.encode() in r and b'"accepted"' in r]
            return found if mine else None

        found = await eventually(settled, what="the assignment in the requests changelog")
        topics = set(found)
        for name in ("commands", "events", "deadletter"):
            assert stack.topic(name) in topics
        for table in ("requests", "helpers"):
            assert f"{stack.app_id}-{table}-changelog" in topics
        assert found[stack.topic("commands")] and found[stack.topic("events")]
        assert any(b"helper_assigned" in r for r in found[stack.topic("events")])
        assert leaks(found, PERSONAL + PLACES) == []
        assert details(found) == []
        # PostgreSQL's copies are sealed too: the API's outbox row and the helper's page row.
        outbox = await conn.fetchval(
            "SELECT command::text FROM api_intake WHERE request_id = $1", request_id
        )
        private = await conn.fetchrow(
            "SELECT contact::text, text, sealed FROM request_private WHERE request_id = $1",
            request_id,
        )
        assert private is not None and private["sealed"] is not None
        for stored in (outbox or "", private["contact"], private["text"]):
            assert not any(s.decode() in stored for v in PERSONAL for s in spellings(v))
    finally:
        await helper.aclose()
        await conn.close()


async def test_a_command_from_before_is_sealed_by_the_worker(
    stack: LocalStack, phones: PushReceiver
) -> None:
    """A plain SubmitRequest (the format before this change) still in the commands topic:
    dispatched, its contact reaches the accepting helper, and neither its events nor the
    worker's table hold it in the clear."""
    helper = httpx.AsyncClient(base_url=stack.api_url, timeout=15)
    try:
        h = builders.helper("s2", COMMUNITY, ["errands"], channels=["phones"], phone=HELPER_PHONE)
        assert (await helper.put("/v1/admin/helpers/s2", json=h, headers=STAFF)).status_code == 202
        place = builders.place(COMMUNITY, household_id="h-old", unit="3", floor=7)
        spec = RequestSpec.model_validate(
            {
                "request_id": f"old-{uuid.uuid4().hex[:8]}",
                "community_id": COMMUNITY,
                "place": place,
                "category": "errand",
                "urgency": "normal",
                "skills": ["errands"],
                "text": TEXT,
                "contact": RequesterContact(name=NAME, phone=PHONE, address=ADDRESS),
            }
        )
        old = new_command(
            SubmitRequest(spec=spec), community_id=COMMUNITY, issued_at=datetime.now(UTC)
        )
        # Exactly as it was written before: no field this change added.
        new_fields = {"sealed", "requester_phone_key"}
        raw = old.model_dump_json(exclude={"body": {"spec": new_fields}}).encode()
        assert PHONE.encode() in raw and b'"sealed"' not in raw and b"phone_key" not in raw
        topic = stack.env()["DISPATCH_COMMANDS_TOPIC"]
        async with CommandProducer(stack.kafka_bootstrap, topic) as p:
            await p.send_raw(COMMUNITY, raw)
        await accept_through_the_link(stack, phones, helper, "s2")

        async def settled() -> dict[str, list[bytes]] | None:
            found = await read_everything(stack)
            changelog = found.get(f"{stack.app_id}-requests-changelog", [])
            mine = [r for r in changelog if spec.request_id.encode() in r and b'"accepted"' in r]
            return found if mine else None

        found = await eventually(settled, what="the old request's assignment in the changelog")
        # The old record itself stays in `commands` until its retention.ms: that one only.
        assert leaks(found, (PHONE,)) == [f"{topic}: {PHONE!r}"]
        del found[topic]
        assert leaks(found, PERSONAL) == []
        assert details(found) == []
    finally:
        await helper.aclose()


CARD_NAME = "陈桂芳"
CARD_PHONE = "13912340088"
CARD_ADDRESS = "翠竹园9号楼二单元803室"
CARD_HOUSEHOLD = "hh-chen-guifang"
PAIRED_NAME = "吴志强"
PAIRED_USER = "wx-wu-zhiqiang-19"
HOUSEHOLDS = (
    "小区编号,小区,网格,楼栋,单元,户号,户主,电话,地址,标签,年龄,结对\n"
    f"c1,图强小区,g1,9号楼,二单元,{CARD_HOUSEHOLD},{CARD_NAME},{CARD_PHONE},{CARD_ADDRESS},"
    "独居,88,s3\n"
)


async def test_a_household_card_asks_its_paired_helper_with_nothing_personal_in_kafka(
    stack: LocalStack, phones: PushReceiver
) -> None:
    """The household ledger (family-named household id, the card's contact) and a paired
    helper with a name and a platform id: the pairing still matches through keyed ids, the
    helper's welcome greets them by name, the accepting helper sees the card's contact and
    unit; no topic holds any of it."""
    helper = httpx.AsyncClient(base_url=stack.api_url, timeout=15)
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        h = builders.helper(
            "s3",
            COMMUNITY,
            ["errands"],
            channels=["phones"],
            phone="13755550199",
            name=PAIRED_NAME,
            platform_user_id=PAIRED_USER,
            place=builders.place(COMMUNITY, building="b12"),  # far from the household
        )
        assert (await helper.put("/v1/admin/helpers/s3", json=h, headers=STAFF)).status_code == 202
        r = await helper.post(
            f"/v1/admin/communities/{COMMUNITY}/households",
            content=HOUSEHOLDS.encode(),
            headers={**STAFF, "content-type": "text/csv; charset=utf-8"},
        )
        assert r.status_code == 200 and r.json()["pairings"] == 1, r.text
        (card,) = r.json()["cards"]
        topic = stack.env()["DISPATCH_COMMANDS_TOPIC"]
        async with CommandProducer(stack.kafka_bootstrap, topic) as p:  # as `welcome` does
            await p.send(WelcomeHelper(helper_id="s3"), COMMUNITY)
        await phones.wait_for(lambda: bool(pushes(phones, "s3", "welcome")), timeout=60)
        assert PAIRED_NAME in str(pushes(phones, "s3", "welcome")[0]["text"])

        async def paired() -> bool:  # the pairing went through the commands topic
            n = await conn.fetchval(
                "SELECT count(*) FROM event_log WHERE type = 'helper_updated' "
                "AND body->>'helper_id' = 's3'"
            )
            return int(n) >= 2  # the upsert, then the pairing

        await eventually(paired, what="the pairing applied")
        answer = await helper.post(card["card_path"], json={"category": "fall"})
        assert answer.status_code == 202, answer.text
        request_id = str(answer.json()["request_id"])
        await phones.wait_for(
            lambda: any(o["request_id"] == request_id for o in pushes(phones, "s3", "offer")),
            timeout=60,
        )
        offer = next(o for o in pushes(phones, "s3", "offer") if o["request_id"] == request_id)
        path = httpx.URL(str(offer["accept_url"])).raw_path.decode()
        accepted = await helper.post(path)
        assert accepted.status_code in (200, 202), accepted.text

        async def page() -> str | None:
            text = (await helper.get(path)).text
            return text if CARD_PHONE in text else None

        shown = await eventually(page, what="the card's contact on the accepting phone")
        assert CARD_NAME in shown and CARD_ADDRESS in shown and "2单元" in shown

        async def settled() -> dict[str, list[bytes]] | None:
            found = await read_everything(stack)
            changelog = found.get(f"{stack.app_id}-requests-changelog", [])
            mine = [r for r in changelog if request_id.encode() in r and b'"accepted"' in r]
            return found if mine else None

        found = await eventually(settled, what="the card request's assignment in the changelog")
        assert any(b"pair_household" in r for r in found[topic])
        # The other test's record from before (plain on purpose) stays until retention.ms.
        found[topic] = [r for r in found[topic] if b'"h-old"' not in r]
        secrets = (CARD_NAME, CARD_PHONE, CARD_ADDRESS, CARD_HOUSEHOLD, PAIRED_NAME, PAIRED_USER)
        assert leaks(found, secrets) == []
        assert details(found) == []
    finally:
        await helper.aclose()
        await conn.close()
