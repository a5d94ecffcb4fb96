"""The worker's Prometheus metrics as the tests read them: the samples of a scrape, a sum
over labels, a scrape once a resolution is counted, and a command sent straight to Kafka (as
the API would) to move a request along."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from dispatcher.testing.stack import LocalStack
from schemas.commands import CommandBody, new_command
from tests.support.waiting import eventually

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def get(metrics: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= ls)


async def once_resolved(metrics_url: str, what: str) -> Samples:
    """Scrape `metrics_url` until it counts a resolved request (the record agent observes
    events in batches: wait for the last one)."""

    async def scrape() -> Samples | None:
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.get(metrics_url)
        assert r.status_code == 200, r.text
        m = samples(r.text)
        return m if get(m, "dispatch_requests_closed_total", outcome="resolved") else None

    found: Samples = await eventually(scrape, what=what)
    return found


async def send(
    stack: LocalStack, producer: AIOKafkaProducer, community: str, body: CommandBody
) -> None:
    """`body` as a command of `community` on the namespace's commands topic."""
    cmd = new_command(body, community_id=community, issued_at=datetime.now(UTC))
    await producer.send_and_wait(
        stack.topic("commands"), cmd.model_dump_json().encode(), key=community.encode()
    )
