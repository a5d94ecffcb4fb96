"""Faust's aiokafka producer, with no linger on the records a step waits for.

The worker's producer lingers 2 ms (streams/app.py) so that a decision's table writes, sent
without waiting, share a produce request. The dispatch agent, though, awaits each decision's
events record before it writes the tables and before it reads the next command: lingering that
record only delays every command by the linger (on the way to the first offer, and in the one
agent's throughput), as nothing else is sent meanwhile. A record sent to a `prompt_topics` topic
therefore closes its open batch, which aiokafka then treats as ready, and wakes the sender, as
aiokafka's own `flush_for_commit` does (the sources relied on are pinned by
tests/unit/test_faust_pins.py). Everything else still lingers; nothing about acks changes.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as aiokafka_driver


class PromptProducer(aiokafka_driver.Producer):
    prompt_topics: frozenset[str] = frozenset()

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
