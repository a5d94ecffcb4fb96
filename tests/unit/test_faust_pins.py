"""Pins the faust-streaming and aiokafka sources that streams/faust_recovery.py,
faust_consumer.py, faust_producer.py, faust_stop.py, faust_store.py and changelog_writes.py
override or rely on.
The fix of the recovery race (faust #596, #606) copies and reorders upstream code: if an
upgrade changes any of these functions, this test fails, and whoever upgrades must re-read
them and re-check the fix before changing a hash here.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import inspect
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from aiokafka.consumer.consumer import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.consumer.subscription_state import (
    Subscription,
    SubscriptionState,
    TopicPartitionState,
)
from aiokafka.producer.message_accumulator import BatchBuilder, MessageAccumulator, MessageBatch
from faust import streams as faust_streams
from faust.app.base import App
from faust.stores import rocksdb
from faust.stores.base import SerializedStore
from faust.streams import Stream, current_event
from faust.tables.base import Collection
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.tables.table import Table
from faust.topics import Topic
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as aiokafka_driver
from mode import Service
from mode.utils.collections import ManagedUserDict

from dispatcher.settings import Settings
from streams.app import create_faust_app
from streams.faust_consumer import ContiguousConsumer, ContiguousTransport
from streams.faust_producer import PiggybackKafkaProducer, PromptProducer
from streams.faust_recovery import SeekFirstRecovery, SeekFirstTableManager

Consumer = faust_consumer.Consumer
Subs = SubscriptionState
Listener = aiokafka_driver.ConsumerRebalanceListener
Thread = aiokafka_driver.AIOKafkaConsumerThread
Delegate = faust_consumer.ThreadDelegateConsumer
PINNED: dict[str, tuple[Any, str]] = {
    "Recovery.on_recovery_completed": (Recovery.on_recovery_completed, "6ef567acf072e46d"),
    "Recovery._resume_streams": (Recovery._resume_streams, "d986a6710c1aca98"),
    "Recovery._restart_recovery": (Recovery._restart_recovery.fun, "6bd8a8558a2dffe4"),
    "TableManager.recovery": (TableManager.recovery.fget, "f0bf5de78b4c3d23"),
    "Consumer.perform_seek": (Consumer.perform_seek, "0e8c130ff4b0afd8"),
    "Consumer.seek": (Consumer.seek, "b86a9fe05f956b30"),
    "Consumer.getmany": (Consumer.getmany, "4b168d84882a70d6"),
    "Consumer._new_offset": (Consumer._new_offset, "1d2c7ea89a7ad4f1"),
    "Consumer._add_gap": (Consumer._add_gap, "4df2573ded7c1c2c"),
    "Consumer._drain_messages": (Consumer._drain_messages, "44a2500309e83c63"),
    "Consumer.ack": (Consumer.ack, "5fcf41cf45153475"),
    "Consumer._commit_offsets": (Consumer._commit_offsets, "1a69799041188441"),
    "Consumer.on_partitions_revoked": (Consumer.on_partitions_revoked, "d04b7ae72c6fc206"),
    "App._new_transport": (App._new_transport, "42db531312dd776f"),
    # streams/faust_stop.py: the stop path's wait and the weak set of records it waits for.
    "App._consumer_wait_empty": (App._consumer_wait_empty, "6bc313c48c064b16"),
    "App._stop_consumer": (App._stop_consumer, "55854a5de12c3f52"),
    "Consumer.wait_empty": (Consumer.wait_empty, "e4662fe24f094819"),
    "Consumer._clean_unacked_messages": (Consumer._clean_unacked_messages, "11be2587e71c9162"),
    "Consumer.track_message": (Consumer.track_message, "217d7f1399a4cd8e"),
    # ... and the rebalance path, whose wait stays unbounded.
    "App._on_partitions_revoked": (App._on_partitions_revoked, "d5c895bbe57dc73a"),
    # streams/faust_producer.py: Faust's producer it extends, and the aiokafka batching that
    # `send_now` relies on (a closed batch does not linger; the waiter wakes the sender).
    "App._new_producer": (App._new_producer, "e7e1814e715d8b30"),
    "Producer.send": (aiokafka_driver.Producer.send, "0b5bd08f52e5e2a9"),
    "Producer._ensure_producer": (aiokafka_driver.Producer._ensure_producer, "5592a4bbdf251325"),
    "BatchBuilder.close": (BatchBuilder.close, "084fb8748d27f9b6"),
    "MessageBatch.remaining_linger": (MessageBatch.remaining_linger, "6f296891237ba250"),
    "MessageAccumulator.drain_by_nodes": (MessageAccumulator.drain_by_nodes, "fc995afbfc5718e2"),
    "MessageAccumulator.add_message": (MessageAccumulator.add_message, "56ff7e6c19185f83"),
    # ... and `PiggybackAccumulator`: a drained batch is popped as upstream pops it, and
    # Faust builds the worker's aiokafka producer from `_producer_type`.
    "MessageAccumulator._pop_batch": (MessageAccumulator._pop_batch, "41cc98a298ef2628"),
    "Producer._new_producer": (aiokafka_driver.Producer._new_producer, "e72355c3430ed02f"),
    "Producer._producer_type": (
        aiokafka_driver.Producer._producer_type.fget,
        "311dc214fc435d81",
    ),
    "AIOKafkaProducer.__init__": (AIOKafkaProducer.__init__, "fd6f2966fb3dc883"),
    "MessageAccumulator.flush_for_commit": (
        MessageAccumulator.flush_for_commit,
        "39683730fcffc2a4",
    ),
    # The recovered changelog partitions leave the fetches (faust_consumer.stop_fetching):
    # Faust's pause is bookkeeping (its paused set), aiokafka lists every assigned partition
    # that is not paused in its own state, builds fresh (unpaused) states for every new
    # assignment, and Faust's generation is the coordinator's.
    "Consumer.pause_partitions": (Consumer.pause_partitions, "27a1c94bdacd54de"),
    "Consumer.resume_partitions": (Consumer.resume_partitions, "afe6b7c02a41d63c"),
    "Recovery._is_changelog_tp": (Recovery._is_changelog_tp, "453e8762c530ad44"),
    "ConsumerRebalanceListener.on_partitions_assigned": (
        Listener.on_partitions_assigned,
        "1c1f8406ad3698a6",
    ),
    "Fetcher._get_actions_per_node": (Fetcher._get_actions_per_node, "1dab2cf937d165d0"),
    "Subscription._assign": (Subscription._assign, "bf731e02b121db9f"),
    "TopicPartitionState.pause": (TopicPartitionState.pause, "6c91801ebcc292ab"),
    "SubscriptionState.paused_partitions": (Subs.paused_partitions, "e9aba01781f989a0"),
    "SubscriptionState.assigned_partitions": (Subs.assigned_partitions, "92937855f4e1a6e6"),
    "AIOKafkaConsumer.pause": (AIOKafkaConsumer.pause, "d5fc6f4236503615"),
    # ... only in the assignment recovered: aiokafka builds its `Assignment` before calling the
    # listener and awaits it; Faust's thread awaits the main loop's `on_partitions_assigned`
    # (so the consumer's `assignment_token` read there is that assignment's), whose chain
    # (`TableManager.on_rebalance`) calls `Recovery.on_rebalance`, which sets the round's
    # generation and its start signal (a rebalance during a round sets it again).
    "GroupCoordinator._on_join_complete": (GroupCoordinator._on_join_complete, "0b0b3d204b408f3c"),
    "SubscriptionState.assign_from_subscribed": (Subs.assign_from_subscribed, "faf16f1b629aa838"),
    "ThreadDelegateConsumer.threadsafe_partitions_assigned": (
        Delegate.threadsafe_partitions_assigned,
        "50fac26841ad9934",
    ),
    "Consumer.on_partitions_assigned": (Consumer.on_partitions_assigned, "29ce96596f05a18c"),
    "Recovery.on_rebalance": (Recovery.on_rebalance, "aa4d997a1795ceae"),
    "TableManager.on_rebalance": (TableManager.on_rebalance, "2d2c23a07bf54328"),
    # streams/command_groups.py: the dispatch agent's groups read the stream as `take_events`
    # does (a processor fills the buffer, a passive drainer iterates, acks disabled and done
    # by the agent), and its table writes go to the partition of the event it sets current.
    "Stream.take_events": (Stream.take_events, "607d48aead118ba8"),
    "Stream._enable_passive": (Stream._enable_passive, "64da8ce9f729e30e"),
    "Stream._passive_drainer": (Stream._passive_drainer, "8ac3eef0bc6626ab"),
    "Stream.add_processor": (Stream.add_processor, "3bb6686bc255f121"),
    "Stream.ack": (Stream.ack, "32d7171a89b0931d"),
    "Stream._c_aiter": (Stream._c_aiter, "fa44582a5882e9df"),
    "Stream._py_aiter": (Stream._py_aiter, "3a48ee257a65435b"),
    "Service.wait_for_stopped": (Service.wait_for_stopped, "569f0acaedaef794"),
    "Service.wait": (Service.wait, "6a532eb86923612f"),
    "Table.on_key_set": (Table.on_key_set, "a370e35ca55c2c7e"),
    "Table.on_key_del": (Table.on_key_del, "4f2900b2f9d24a08"),
    "Collection.partition_for_key": (Collection.partition_for_key, "3b2291811b8dd791"),
    "current_event": (current_event, "3b821f1a78d86a58"),
    # streams/command_groups.py `reading_any_partition` / `writing_for` (the prune): RocksDB's
    # store reads and writes only the current event's partition when there is one, and looks
    # through every partition when there is none.
    "rocksdb.Store._get": (rocksdb.Store._get, "7ae8dfd6d7754a59"),
    "rocksdb.Store._contains": (rocksdb.Store._contains, "bd7d4e5252a71b9a"),
    "rocksdb.Store._del": (rocksdb.Store._del, "07f42ff3caefffdd"),
    # streams/faust_store.py keeps the changelog offsets Faust persists per acknowledged
    # record and writes them lazily: where they are set and read, and when the databases
    # close, are reset or stop.
    "Collection._on_changelog_sent": (Collection._on_changelog_sent, "60122c86a120d82c"),
    "rocksdb.Store.set_persisted_offset": (rocksdb.Store.set_persisted_offset, "b4c811926678346e"),
    "rocksdb.Store.persisted_offset": (rocksdb.Store.persisted_offset, "6f2e502fb86043a1"),
    "rocksdb.Store.apply_changelog_batch": (
        rocksdb.Store.apply_changelog_batch,
        "ea3344d369fc4ab5",
    ),
    "rocksdb.Store.revoke_partitions": (rocksdb.Store.revoke_partitions, "3f85447a24fc34ff"),
    "rocksdb.Store.stop": (rocksdb.Store.stop, "2e98db0eb7c7582b"),
    "rocksdb.Store.reset_state": (rocksdb.Store.reset_state, "5643c4335fcf11db"),
    # streams/faust_poll.py: Faust polls aiokafka from its thread with its live partition set
    # (an empty set is every partition to aiokafka), drops what it cannot deliver, and a poll
    # woken during a rejoin waits in `fetched_records` for the next assignment.
    "Consumer._is_changelog_tp": (Consumer._is_changelog_tp, "88867d75cfe9aecf"),
    "Consumer._wait_next_records": (Consumer._wait_next_records, "6218e1969a636b3f"),
    "ThreadDelegateConsumer._getmany": (
        faust_consumer.ThreadDelegateConsumer._getmany,
        "f9d47aa9010b5ff2",
    ),
    "Consumer._new_consumer_thread": (
        aiokafka_driver.Consumer._new_consumer_thread,
        "0870ec53dea75083",
    ),
    "AIOKafkaConsumerThread.getmany": (Thread.getmany, "26fc5fc9f3b667e1"),
    "AIOKafkaConsumerThread._fetch_records": (Thread._fetch_records, "39a2c6c79fc1455a"),
    "Fetcher.fetched_records": (Fetcher.fetched_records, "be4348896b9b66af"),
    "Fetcher.seek_to": (Fetcher.seek_to, "f0ba6aba6c22ef83"),
    "SubscriptionState.is_assigned": (Subs.is_assigned, "cd2783df3bd5f27a"),
    # ... and what its test hook (tests/support/stale_poll/sitecustomize.py) only delays.
    "SubscriptionState.begin_reassignment": (Subs.begin_reassignment, "c141fe3db38455c0"),
    "SubscriptionState.wait_for_assignment": (Subs.wait_for_assignment, "7f09ce46a80d23d8"),
    "Recovery._seek_offsets": (Recovery._seek_offsets, "19598ca63d94d250"),
    # streams/faust_poll.py sets the worker consumer's fetch wait after Faust built it with
    # 1.5 s: it must still be read only when the consumer starts.
    "AIOKafkaConsumerThread._create_worker_consumer": (
        Thread._create_worker_consumer,
        "c2701bfc3e6f6cad",
    ),
    "AIOKafkaConsumer.start": (AIOKafkaConsumer.start, "2f1ba70443327538"),
    # streams/changelog_writes.py does what `table[key] = value` does (store write, changelog
    # record, sensors, offset on acknowledgement) without Faust's relaying, and exits on a
    # refused record before the commit that awaits the producer's flush: aiokafka resolves a
    # batch's future before its records' (their callbacks run before the flush resumes).
    "Collection.send_changelog": (Collection.send_changelog, "3dd3884e1b5fc0e1"),
    "Collection._verify_source_topic_partitions": (
        Collection._verify_source_topic_partitions,
        "6814da56b0d83f93",
    ),
    "Topic.publish_message": (Topic.publish_message, "4ce1cbc353047a36"),
    "Topic._on_published": (Topic._on_published, "7cfe9ebd65964b0a"),
    "ManagedUserDict.__setitem__": (ManagedUserDict.__setitem__, "f3bdf602abc08dd1"),
    "SerializedStore.__setitem__": (SerializedStore.__setitem__, "6cadf304f59f254d"),
    "rocksdb.Store._set": (rocksdb.Store._set, "4227e561e288d941"),
    "MessageBatch.done": (MessageBatch.done, "2d765e5c2dc8638d"),
    "MessageBatch.failure": (MessageBatch.failure, "719b2122c318e955"),
    "MessageAccumulator.flush": (MessageAccumulator.flush, "2b0eaa3da8519269"),
}


def source_hash(fn: Any) -> str:
    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:16]


#: streams/command_groups.py `take_ready` relies on how the stream iterator runs: `next()` runs
#: the processors after `_set_current_event`, and `after()` acks nothing when acks are off.
#: This venv iterates with Faust's compiled iterator (faust/_cython/streams.pyx, used by
#: `Stream._c_aiter` whenever it imports), whose source `inspect` cannot reach: its text is
#: pinned as shipped in the wheel.
CYTHON_STREAMS_PYX = "0041622f4a251188"


def test_pinned_versions() -> None:
    assert importlib.metadata.version("faust-streaming") == "0.15.3"
    assert importlib.metadata.version("aiokafka") == "0.14.0"


def test_overridden_faust_sources_are_unchanged() -> None:
    changed = {name for name, (fn, digest) in PINNED.items() if source_hash(fn) != digest}
    assert not changed, f"faust sources changed under the recovery fix: {sorted(changed)}"


def test_the_compiled_stream_iterator_is_unchanged() -> None:
    assert faust_streams._CStreamIterator is not None, "take_ready's iterator is _py_aiter now"
    pyx = importlib.resources.files("faust._cython").joinpath("streams.pyx").read_bytes()
    assert hashlib.sha256(pyx).hexdigest()[:16] == CYTHON_STREAMS_PYX


def test_the_app_uses_the_fixed_recovery_and_consumer(tmp_path: Any) -> None:
    app = create_faust_app(Settings(data_dir=tmp_path), "pin")
    assert isinstance(app, faust.App)
    assert isinstance(app.tables, SeekFirstTableManager)
    assert isinstance(app.tables.recovery, SeekFirstRecovery)
    assert isinstance(app.transport, ContiguousTransport)
    assert app.transport.Consumer is ContiguousConsumer
    settings = Settings(data_dir=tmp_path)
    assert app.contiguous_topics == {settings.commands_topic, settings.events_topic}
    expected = f"{settings.app_id}.pin.{settings.worker_web_port}"
    assert app.conf.consumer_group_instance_id == expected
    assert isinstance(app.producer, PromptProducer)
    assert app.producer.prompt_topics == {settings.events_topic, settings.commands_topic}
    assert app.producer._producer_type is PiggybackKafkaProducer


def test_diagnostic_switch_gives_unpatched_faust(tmp_path: Any) -> None:
    app = create_faust_app(Settings(data_dir=tmp_path, faust_offset_fixes=False), "off")
    assert type(app.tables.recovery) is Recovery
    assert type(app.transport).Consumer is not ContiguousConsumer
    assert not app.contiguous_topics


async def test_the_worker_consumer_fetch_wait_is_the_setting(tmp_path: Any) -> None:
    """Faust builds it with fetch_max_wait_ms=1500; the worker's consumer thread replaces it
    (streams/faust_poll.py) before the consumer starts and hands it to its fetcher."""
    settings = Settings(data_dir=tmp_path, consumer_fetch_max_wait_ms=37)
    app = create_faust_app(settings, "pin")
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    assert isinstance(consumer, AIOKafkaConsumer)
    assert consumer._fetch_max_wait_ms == 37
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)
    default = create_faust_app(Settings(data_dir=tmp_path / "d"), "pin2")
    built = default.consumer._thread._create_worker_consumer(default.transport)
    assert built._fetch_max_wait_ms == 100
