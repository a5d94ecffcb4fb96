import pytest
from aiokafka.partitioner import DefaultPartitioner
from pydantic import ValidationError

from dispatcher.bench.e2e_city import build_city
from dispatcher.partitioning import CommunityPartitioner, spread
from dispatcher.settings import Settings

EIGHT = list(range(8))


def test_listed_communities_go_to_their_partition() -> None:
    part = CommunityPartitioner({"a": 5, "b": 0})
    assert part(b"a", EIGHT, EIGHT) == 5
    assert part(b"b", EIGHT, EIGHT) == 0


def test_unlisted_keys_hash_as_kafka_does() -> None:
    part = CommunityPartitioner({"a": 5})
    murmur = DefaultPartitioner()
    for key in (b"zhonghua", b"kaiyuan", b"x" * 40):
        assert part(key, EIGHT, EIGHT) == murmur(key, EIGHT, EIGHT)


def test_a_partition_the_topic_lacks_falls_back_to_the_hash() -> None:
    part = CommunityPartitioner({"a": 11})
    assert part(b"a", EIGHT, EIGHT) == DefaultPartitioner()(b"a", EIGHT, EIGHT)


def test_spread_evens_out_the_bench_city_that_hashing_piles_up() -> None:
    communities = build_city(6, 10, 7).communities
    hashed = [DefaultPartitioner()(c.encode(), EIGHT, EIGHT) for c in communities]
    assert max(hashed.count(p) for p in set(hashed)) >= 3  # the problem: one hot partition
    table = spread(communities, 8)
    assert sorted(table.values()) == [0, 1, 2, 4, 5, 6]  # distinct, and 3 + 3 per half
    assert sorted(spread([f"c{i}" for i in range(20)], 8).values()).count(0) in (2, 3)


def test_settings_read_the_table_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_COMMUNITY_PARTITIONS", '{"a": 3}')
    assert Settings().community_partitions == {"a": 3}
    monkeypatch.setenv("DISPATCH_COMMUNITY_PARTITIONS", '{"a": -1}')
    with pytest.raises(ValidationError):
        Settings()
