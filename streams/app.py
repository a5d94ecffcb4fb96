"""The Faust application factory: every setting passed explicitly, none from the environment."""

from __future__ import annotations

import faust

from dispatcher.settings import Settings


def create_faust_app(settings: Settings, worker_name: str = "worker") -> faust.App:
    data_dir = settings.faust_data_dir(worker_name)
    data_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        settings.app_id,
        # Faust reads un-prefixed env vars (BROKER_URL, WEB_PORT…) over constructor arguments:
        # give it an empty environment so only our settings object decides.
        env={},
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
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
    )
