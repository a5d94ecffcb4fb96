"""Which partition a community's commands and events go to.

Kafka's default partitioner hashes the key (murmur2). With a handful of communities that is
uneven: in the bench city four of six communities hash to one of eight partitions, so a
second worker gets partitions with nothing in them. `DISPATCH_COMMUNITY_PARTITIONS` (a JSON
object, community id → partition) places named communities explicitly; every other key
falls back to murmur2. Every producer of `commands` and `events` (the API, the worker, the
demo) uses this partitioner with the same settings, so a community's commands stay in one
partition and its events in the same-numbered one (the notify agent reads its own
partitions' state).

Changing the table moves a community: like changing the partition count, do it only with
the community's commands drained (its old partition's backlog would otherwise be applied
after newer commands on the new one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiokafka.partitioner import DefaultPartitioner


class CommunityPartitioner:
    """An aiokafka / Faust partitioner: `(key, all_partitions, available) -> partition`."""

    def __init__(self, table: Mapping[str, int]) -> None:
        self._table = {k.encode(): p for k, p in table.items()}
        self._hash = DefaultPartitioner()

    def __call__(
        self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
    ) -> int:
        placed = self._table.get(key) if key is not None else None
        # A table written for more partitions than the topic has falls back to the hash
        # rather than naming a partition that does not exist.
        if placed is not None and placed in all_partitions:
            return placed
        return int(self._hash(key, list(all_partitions), list(available)))


def spread(communities: Sequence[str], partitions: int) -> dict[str, int]:
    """An even table: communities spaced evenly over the partitions, in order. Faust gives
    each worker a contiguous range of partitions (8 over 2 workers: 0-3 and 4-7), so spacing
    (6 communities: 0, 1, 2, 4, 5, 6) splits them evenly where `i mod partitions` would not
    (0-5: four and two)."""
    n = len(communities)
    return {c: i * partitions // n for i, c in enumerate(communities)}
