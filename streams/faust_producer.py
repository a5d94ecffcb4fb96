"""Faust's aiokafka producer, with no linger on the records a step waits for.

The worker's producer lingers 10 ms (streams/app.py) so that a decision's table writes, sent
without waiting, share a produce request. The dispatch agent, though, awaits each decision's
events record before it writes the tables and before it reads the next command: lingering that
record only delays every command by the linger (on the way to the first offer, and in the one
agent's throughput), as nothing else is sent meanwhile. A record sent to a `prompt_topics` topic
therefore closes its open batch, which aiokafka then treats as ready, and wakes the sender, as
aiokafka's own `flush_for_commit` does (the sources relied on are pinned by
tests/unit/test_faust_pins.py). Everything else still lingers; nothing about acks changes.

What lingers rides along with what does not (`PiggybackAccumulator`): when the sender drains
a broker's ready batches, the ones still lingering for that broker go in the same produce
request, as the Java client drains a ready node. aiokafka otherwise leaves them for a request
of their own once their linger is over: a lone command then cost two produce requests, its
events record and, a linger later, its table records (each request a socket write and a
broker round of its own). Now the table records of one command travel with the next
command's events record, or alone after the linger if no command comes first.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from aiokafka.producer.message_accumulator import MessageAccumulator
from faust.transport.drivers import aiokafka as aiokafka_driver


class PiggybackAccumulator(MessageAccumulator):
    """aiokafka's accumulator, draining a broker's lingering batches with its ready ones."""

    def drain_by_nodes(
        self, ignore_nodes: Any, muted_partitions: Any = frozenset()
    ) -> tuple[dict[Any, dict[Any, Any]], bool]:
        nodes, unknown_leaders_exist = super().drain_by_nodes(ignore_nodes, muted_partitions)
        if nodes:
            for tp in list(self._batches):
                if tp in muted_partitions:
                    continue
                leader = self._cluster.leader_for_partition(tp)
                ready = nodes.get(leader)
                if ready is None or tp in ready:
                    continue  # no request to that broker now, or one batch a request
                batch = self._pop_batch(tp)
                if batch.is_empty():
                    batch.done_noack()  # as upstream does with one
                else:
                    ready[tp] = batch
        return nodes, unknown_leaders_exist


class PiggybackKafkaProducer(aiokafka.AIOKafkaProducer):
    """aiokafka's producer with `PiggybackAccumulator` (no state of its own: its class is
    all that changes)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._message_accumulator.__class__ = PiggybackAccumulator


class PromptProducer(aiokafka_driver.Producer):
    prompt_topics: frozenset[str] = frozenset()

    @property
    def _producer_type(self) -> type[aiokafka.AIOKafkaProducer]:
        return PiggybackKafkaProducer

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Any:
        sent = await super().send(
            topic, key, value, partition, timestamp, headers, transactional_id=transactional_id
        )
        if topic in self.prompt_topics and not transactional_id:
            send_now(self._ensure_producer(), topic)
        return sent


def send_now(producer: Any, topic: str) -> None:
    """Let the open batches of `topic` go with the sender's next pass instead of lingering."""
    accumulator = producer._message_accumulator
    for tp, batches in accumulator._batches.items():
        if tp.topic == topic:
            for batch in batches:
                batch._builder.close()  # closed: no linger (MessageBatch.remaining_linger)
    waiter = accumulator._waiter_future
    if not waiter.done():
        waiter.set_result(None)
