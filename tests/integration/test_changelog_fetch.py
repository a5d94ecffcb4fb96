"""Once its tables are recovered, a worker's consumer fetches only the partitions its streams
read (streams/faust_consumer.py `stop_fetching`): the changelog partitions, which Faust keeps
paused, leave every fetch. The next rebalance's recovery must read the changelogs again: here
worker-1 pauses its changelogs, worker-2 joins and writes to the changelogs of the partitions
it takes, and when worker-2 stops, worker-1 takes them back with worker-2's writes."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from dispatcher.testing.stack import LocalStack, Proc
from tests.support import builders
from tests.support.diagnosis import worker_story
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITIES = [f"cf-{i}" for i in range(8)]


async def upsert_helpers(client: httpx.AsyncClient, tag: str) -> int:
    for community in COMMUNITIES:
        h = builders.helper(f"{community}-{tag}", community, ["driving"])
        r = await client.put(f"/v1/admin/helpers/{h['helper_id']}", json=h, headers=STAFF)
        assert r.status_code == 202, r.text
    return len(COMMUNITIES)


async def test_recovered_workers_fetch_no_changelog_and_recover_again(stack: LocalStack) -> None:
    streams = {stack.topic("commands"), stack.topic("events")}

    async def stats(*workers: Proc) -> list[dict] | None:
        pages = [await stack.worker_stats(w) for w in workers]
        return None if any(p is None for p in pages) else pages  # type: ignore[return-value]

    seen: list[dict] = []

    async def settled(workers: Iterable[Proc], helpers: int) -> bool:
        """Every partition owned, each worker some (a worker answers /stats before it has
        joined the group), every table recovered (`helpers` in the state), and each worker
        fetching exactly its streams' partitions: no changelog partition."""
        pages = await stats(*workers)
        if pages is None:
            return False
        seen[:] = pages
        owned = sorted(p for page in pages for p in page["partitions"])
        return (
            owned == list(range(stack.partitions))
            and all(page["partitions"] for page in pages)
            and sum(page["helpers"] for page in pages) == helpers
            and all(
                page["fetching"] == {t: len(page["partitions"]) for t in streams} for page in pages
            )
        )

    def explain() -> str:
        keys = ("worker", "partitions", "helpers", "fetching")
        pages = [{k: page.get(k) for k in keys} for page in seen]
        return f"last pages: {pages}\n" + "\n".join(worker_story(w) for w in stack.workers())

    await stack.start_api()
    w1 = stack.start_worker("worker-1")
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        helpers = await upsert_helpers(client, "a")
        await eventually(
            lambda: settled([w1], helpers), timeout=120, what="worker-1 alone", explain=explain
        )

        w2 = stack.start_worker("worker-2")
        await eventually(
            lambda: settled([w1, w2], helpers), timeout=120, what="split", explain=explain
        )
        helpers += await upsert_helpers(client, "b")  # some written by worker-2
        await eventually(
            lambda: settled([w1, w2], helpers), timeout=60, what="batch b", explain=explain
        )
        pages = await stats(w2)
        assert pages and pages[0]["helpers"] > 0, "worker-2 owned no community"

        w2.stop()  # worker-1 takes its partitions back, with worker-2's changelog writes
        await eventually(
            lambda: settled([w1], helpers), timeout=120, what="worker-1 again", explain=explain
        )
