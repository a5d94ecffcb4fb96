"""The Faust application factory: every setting passed explicitly, none from the environment."""

from __future__ import annotations

from typing import Any

import faust
from faust.types import ProducerT, TransportT

from dispatcher.kafka_security import ssl_context
from dispatcher.partitioning import CommunityPartitioner
from dispatcher.settings import Settings
from streams import group_heartbeat
from streams.faust_consumer import ContiguousTransport
from streams.faust_producer import PromptProducer
from streams.faust_recovery import SeekFirstTableManager
from streams.faust_stop import wait_empty_bounded
from streams.faust_store import store_url


class DispatchApp(faust.App):
    """faust.App with the project's fix of the recovery race (see streams/faust_recovery.py).

    `contiguous_topics` are the plain topics whose offsets the consumer guards: no record of
    theirs is ever skipped or committed over (streams/faust_consumer.py).
    """

    contiguous_topics: frozenset[str] = frozenset()
    #: The contiguous topics whose records only pushes hold (the notify agent's `events`):
    #: a rebalance lets them go after `rebalance_drain_seconds` (streams/faust_stop.py).
    push_topics: frozenset[str] = frozenset()
    offset_fixes: bool = True
    #: At stop, how long Faust waits for records the streams hold (streams/faust_stop.py).
    stop_drain_seconds: float = 5.0
    #: At a rebalance, how long it waits for records only pushes hold (`push_topics`).
    rebalance_drain_seconds: float = 1.0
    # Topics whose records are sent without linger: a step waits for them (faust_producer.py).
    prompt_topics: frozenset[str] = frozenset()
    # Where the consumer reports records lost to retention (streams/faust_consumer.py): the
    # worker's DeadLetterSink, once made.
    dead_letter_sink: Any = None

    def _new_transport(self) -> TransportT:
        if not self.offset_fixes:
            return super()._new_transport()
        return ContiguousTransport(self.conf.broker_consumer, self)

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        if not self.should_stop:
            # A rebalance: upstream's wait for the commands being decided; records held by
            # pushes only for a moment, or a slow receiver stalls the whole group.
            await wait_empty_bounded(
                consumer,
                lambda: super(DispatchApp, self)._consumer_wait_empty(consumer, logger),
                self.rebalance_drain_seconds,
                self.push_topics,
                rebalance=True,
            )
            return
        await wait_empty_bounded(
            consumer,
            lambda: super(DispatchApp, self)._consumer_wait_empty(consumer, logger),
            self.stop_drain_seconds,
            self.contiguous_topics,
        )

    def _new_producer(self) -> ProducerT:
        producer = PromptProducer(self.transport, loop=self.loop, beacon=self.beacon)
        producer.prompt_topics = self.prompt_topics
        return producer


def broker_credentials(settings: Settings) -> faust.auth.Credentials | None:
    """The Kafka connection of dispatcher/kafka_security.py, as Faust takes it."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    assert settings.kafka_sasl_password is not None  # Settings refuses SASL without one
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,  # SASL_SSL with it, SASL_PLAINTEXT without
        mechanism=settings.kafka_sasl_mechanism,
    )


def create_faust_app(settings: Settings, worker_name: str = "worker") -> DispatchApp:
    # Heartbeats go on during the assignment callback: a slow one must not get the member
    # that was just handed the partitions evicted (streams/group_heartbeat.py).
    group_heartbeat.install()
    data_dir = settings.faust_data_dir(worker_name)
    data_dir.mkdir(parents=True, exist_ok=True)
    fixes = settings.faust_offset_fixes
    extra: dict[str, Any] = {}
    if fixes:
        extra["TableManager"] = SeekFirstTableManager
    if settings.static_membership:
        # A restarted worker rejoins as the same member and gets its partitions back at
        # once, instead of the group waiting out the dead member's session. The web port is
        # part of the id: Faust's assignor checks that a member's cached assignment carries
        # its own URL, so a worker restarted on another port must be a new member.
        extra["consumer_group_instance_id"] = (
            f"{settings.app_id}.{worker_name}.{settings.worker_web_port}"
        )
    app = DispatchApp(
        settings.app_id,
        # Faust reads un-prefixed env vars (BROKER_URL, WEB_PORT…) over constructor arguments:
        # give it an empty environment so only our settings object decides.
        env={},
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=broker_credentials(settings),
        # RocksDB writing its changelog offsets lazily (streams/faust_store.py).
        store=store_url(settings.faust_store),
        # Raw bytes everywhere: pydantic decodes at the edge, so a bad payload is a
        # dead-letter with a reason instead of a codec error inside Faust.
        key_serializer="raw",
        value_serializer="raw",
        datadir=str(data_dir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=True,
        topic_disable_leader=True,
        table_standby_replicas=0,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        broker_session_timeout=settings.broker_session_timeout_seconds,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_seconds,
        producer_acks=-1,
        # What nobody waits for (the tables' changelog records) lingers, to share a produce
        # request: with the next command's events record, which does not linger and takes
        # every lingering batch along (streams/faust_producer.py), or, when no command comes
        # within 10 ms, with its own. Faust's commit flushes them first. The API's producer
        # keeps linger 0.
        producer_linger=0.010,
        # The same community → partition placement as the API's producer (commands) and
        # for the events, so events stay co-partitioned with their commands.
        producer_partitioner=CommunityPartitioner(settings.community_partitions),
        web_enabled=True,
        web_host=settings.worker_web_host,
        web_port=settings.worker_web_port,
        web_in_thread=False,
        # /router and /table would serve table contents (contacts) to anyone on the port.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        autodiscover=False,
        stream_wait_empty=True,
        worker_redirect_stdouts=False,
        **extra,
    )
    app.offset_fixes = fixes
    app.stop_drain_seconds = settings.stop_drain_seconds
    app.fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms

    # The events a decision awaits, and the timer's deadline commands (sent late otherwise).
    app.prompt_topics = frozenset({settings.events_topic, settings.commands_topic})
    if fixes:
        app.contiguous_topics = frozenset({settings.commands_topic, settings.events_topic})
        app.push_topics = frozenset({settings.events_topic})
    return app
