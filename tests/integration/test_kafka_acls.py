"""Kafka authentication and ACLs on a real broker, as the deployment configures them.

A second local Kafka (the same jars as deploy/local/stack.sh, KRaft) with a SASL_PLAINTEXT
listener for SCRAM-SHA-512 clients and the StandardAuthorizer (no ACL: no access). Its
SCRAM users are made at format time; its ACLs are `expected_acls` - the function
tests/integration/test_deploy_k8s.py proves equal to the KafkaUsers of
deploy/k8s/kafka-strimzi.yaml - for this namespace's topic and group names. A plaintext
listener, super user as Strimzi's own replication listener is, serves the test's admin.

Shown: the worker (Faust, record agent) and the API, each with its own user and nothing
else, take a request from HTTP to PostgreSQL; a wrong password is refused at connect; a
user without ACLs, and each service outside its ACLs, is refused by the broker.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from dispatcher.groupchat.loop import group_replies_group
from dispatcher.kafka_security import client_options
from dispatcher.maintenance.rekey_helpers import read_helper_states
from dispatcher.settings import REPO_ROOT, Settings
from dispatcher.testing.stack import LocalStack, free_port
from streams.topics import ensure_topics
from tests.conftest import new_stack
from tests.support import builders
from tests.support.kafka_acls import apply_acls, expected_acls
from tests.support.waiting import eventually

LIB = REPO_ROOT / "deploy/local/lib/kafka"
MECHANISM = "SCRAM-SHA-512"
PASSWORDS = {
    "dispatch-api": "api-scram-password-0123456789abcdef",
    "dispatch-worker": "worker-scram-password-0123456789abcdef",
    "intruder": "intruder-scram-password-0123456789abcdef",  # a user with no ACLs
}
STAFF = {"Authorization": "Bearer dev-staff-token"}


@dataclass
class SecuredBroker:
    sasl: str  # SCRAM clients
    internal: str  # plaintext, super user: the operator's door (Strimzi's replication one)

    def env(self, user: str, password: str | None = None) -> dict[str, str]:
        return {
            "DISPATCH_KAFKA_BOOTSTRAP": self.sasl,
            "DISPATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "DISPATCH_KAFKA_SASL_MECHANISM": MECHANISM,
            "DISPATCH_KAFKA_SASL_USERNAME": user,
            "DISPATCH_KAFKA_SASL_PASSWORD": password or PASSWORDS[user],
        }


JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


def _properties(data: Path, sasl: int, internal: int, controller: int) -> str:
    return f"""
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=SASL_PLAINTEXT://127.0.0.1:{sasl},INTERNAL://127.0.0.1:{internal},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{sasl},INTERNAL://127.0.0.1:{internal}
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms={MECHANISM}
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={JAAS}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:ANONYMOUS
log.dirs={data}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=2
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    assert (LIB / "kafka-server-4.1.1.jar").exists() or any(LIB.glob("kafka_*.jar")), (
        "deploy/local/stack.sh up fetches Kafka's jars first"
    )
    root = tmp_path_factory.mktemp("secured-kafka")  # its logs: checked for phones, as all are
    # The topics' segments (named *.log, holding the test's contacts as data) live apart.
    data = Path(tempfile.mkdtemp(prefix="secured-kafka-data-"))
    sasl, internal, controller = free_port(), free_port(), free_port()
    props = root / "server.properties"
    props.write_text(_properties(data, sasl, internal, controller))
    jvm = ["java", "-Xms256m", "-Xmx256m", f"-Dkafka.logs.dir={root}", "-cp", f"{LIB}/*"]
    log4j = REPO_ROOT / "deploy/local/log4j2.properties"
    jvm.insert(1, f"-Dlog4j2.configurationFile={log4j}")
    scram = [
        arg
        for user, password in PASSWORDS.items()
        for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={password}]")
    ]
    # The broker keeps the real clock, as the stack's does: under deploy/local/midnight.sh
    # the JVM never started with its clock library preloaded.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    cluster = subprocess.run(
        [*jvm, "kafka.tools.StorageTool", "random-uuid"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()[-1]
    subprocess.run(
        [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(props), *scram],
        capture_output=True,
        check=True,
        timeout=120,
        env=env,
    )
    log = open(root / "console.log", "wb")  # noqa: SIM115 - the broker owns it
    proc = subprocess.Popen(
        [*jvm, "kafka.Kafka", str(props)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    log.close()
    try:
        yield SecuredBroker(f"127.0.0.1:{sasl}", f"127.0.0.1:{internal}")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)


async def _admin_ready(bootstrap: str) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + 90
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.list_topics()
            return admin
        except KafkaError:
            await admin.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
async def secured(
    _stack_running: None, broker: SecuredBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LocalStack]:
    """A namespace on the secured broker (PostgreSQL from the local stack), its ACLs
    applied; topics and migrations done with the worker's credentials."""
    stack = new_stack(tmp_path_factory.mktemp("secured-stack"))
    stack.kafka_bootstrap = broker.sasl
    admin = await _admin_ready(broker.internal)
    try:
        for user, acls in expected_acls(stack.settings()).items():
            assert await apply_acls(admin, user, acls) > 0
    finally:
        await admin.close()
    stack.extra_env = broker.env("dispatch-worker")  # `topics` creates: the worker's right
    await stack.create()
    try:
        yield stack
    finally:
        await stack.drop()


def _settings(stack: LocalStack, env: dict[str, str]) -> Settings:
    return stack.settings(**{k.removeprefix("DISPATCH_").lower(): v for k, v in env.items()})


async def test_the_worker_and_the_api_work_with_their_own_users_only(
    broker: SecuredBroker, secured: LocalStack
) -> None:
    """Worker (Faust agents, record agent) as dispatch-worker, API as dispatch-api: a
    request goes from HTTP through Kafka to PostgreSQL, offers included."""
    worker_env = secured.env(**broker.env("dispatch-worker"))
    port = free_port()
    secured.spawn(
        "worker-1", "worker", "--name", "worker-1", "--web-port", str(port), env=worker_env
    )
    secured.extra_env = broker.env("dispatch-api")
    await secured.start_api()
    community = "sec-acl"
    async with httpx.AsyncClient(base_url=secured.api_url, timeout=15) as client:
        h = builders.helper("acl-1", community, ["driving"])
        assert (await client.put("/v1/admin/helpers/acl-1", json=h, headers=STAFF)).is_success
        body = builders.request(community, source=None)
        r = await client.post("/v1/requests", json=body, headers=STAFF)
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]
    conn = await asyncpg.connect(secured.pg_dsn)
    try:

        async def offered() -> int:
            return int(
                await conn.fetchval("SELECT count(*) FROM offers WHERE request_id = $1", rid)
            )

        assert await eventually(offered, timeout=90, what="the worker's offer, recorded") >= 1
    finally:
        await conn.close()
    for proc in secured.procs:
        assert proc.alive(), proc.log_tail()
        assert "AuthorizationFailed" not in proc.log_path.read_text(errors="replace"), proc.name


async def test_a_wrong_password_is_refused_at_connect(
    broker: SecuredBroker, secured: LocalStack
) -> None:
    wrong = _settings(secured, broker.env("dispatch-worker", password="not-the-password-0123"))
    producer = AIOKafkaProducer(**client_options(wrong), request_timeout_ms=5000)
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()


async def test_a_user_without_acls_gets_nothing(broker: SecuredBroker, secured: LocalStack) -> None:
    intruder = _settings(secured, broker.env("intruder"))
    producer = AIOKafkaProducer(**client_options(intruder), request_timeout_ms=5000)
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(secured.topic("commands"), b"{}", key=b"x")
    finally:
        await producer.stop()
    await _refused_to_consume(intruder, secured.topic("events"), secured.app_id)


async def test_each_service_is_refused_outside_its_acls(
    broker: SecuredBroker, secured: LocalStack
) -> None:
    api = _settings(secured, broker.env("dispatch-api"))
    producer = AIOKafkaProducer(**client_options(api), request_timeout_ms=5000)
    await producer.start()
    try:  # the API never writes events or dead letters: only the worker decides
        for topic in ("events", "deadletter"):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(secured.topic(topic), b"{}", key=b"x")
    finally:
        await producer.stop()
    # ...nor reads commands, nor joins the worker's consumer group.
    await _refused_to_consume(api, secured.topic("commands"), f"{secured.app_id}-api-probe")
    await _refused_to_consume(api, secured.topic("events"), secured.app_id)
    worker = _settings(secured, broker.env("dispatch-worker"))
    # The worker cannot take the API's group (the chat replies) nor create other topics.
    await _refused_to_consume(worker, secured.topic("events"), f"{secured.app_id}-group-replies")
    admin = AIOKafkaAdminClient(**client_options(worker))
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(secured.topic("elsewhere"), 1, 1)])
        ((_, error, *_),) = response.topic_errors
        assert error == TopicAuthorizationFailedError.errno
    finally:
        await admin.close()


async def test_each_service_can_do_what_its_code_does(
    broker: SecuredBroker, secured: LocalStack
) -> None:
    """The uses the first test does not reach: the API's `topics` check in its init
    container, its chat-replies group and the dashboard's group-less live feed; the
    workers' `rekey-helpers` reading the helpers changelog in a throwaway group."""
    api = _settings(secured, broker.env("dispatch-api"))
    assert await ensure_topics(api) == []  # all exist: Describe is enough
    await _consumes(api, secured.topic("events"), group_replies_group(api))
    await _consumes(api, secured.topic("events"), None)
    worker = _settings(secured, broker.env("dispatch-worker"))
    assert len(await read_helper_states(worker)) >= 1  # acl-1, registered above


async def _consumes(settings: Settings, topic: str, group: str | None) -> None:
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        if group is None:  # as the live feed: assigned partitions, no group
            partitions = consumer.partitions_for_topic(topic) or set()
            for _ in range(50):
                if partitions:
                    break
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic) or set()
            consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
            await consumer.seek_to_end()
        else:
            consumer.subscribe([topic])
        await asyncio.wait_for(consumer.getmany(timeout_ms=2000), 30)
        if group is not None:
            await asyncio.wait_for(consumer.getmany(timeout_ms=2000), 30)
            assert consumer.assignment(), f"{group} got no partitions of {topic}"
    finally:
        await consumer.stop()


async def _refused_to_consume(settings: Settings, topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=group,
        auto_offset_reset="earliest",
        request_timeout_ms=5000,
    )
    try:
        with pytest.raises((TopicAuthorizationFailedError, GroupAuthorizationFailedError)):
            await consumer.start()
            await asyncio.wait_for(consumer.getmany(timeout_ms=3000), 15)
            await asyncio.wait_for(consumer.getmany(timeout_ms=3000), 15)
    finally:
        await consumer.stop()
