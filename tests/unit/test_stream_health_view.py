"""The dashboard's stream-health figures from broker and worker samples (pure)."""

from __future__ import annotations

from dispatcher.ops.stream_health import Sample, WorkerProbe, health_view, worker_name

U1 = "0c1d2e3f-0000-4000-8000-000000000001"
U2 = "0c1d2e3f-0000-4000-8000-000000000002"
TOPICS = {"commands": "t.commands", "events": "t.events", "dead_letters": "t.dead"}
GROUPS = {"app": ("t.commands", "t.events"), "app-record": ("t.events",)}


def sample(at: float, commands: int, events: int, dead: int = 0, **kw) -> Sample:
    ends = {("t.commands", 0): commands, ("t.commands", 1): 0, ("t.events", 0): events}
    ends[("t.dead", 0)] = dead
    return Sample(at=at, ends=ends, **kw)


def test_rates_lag_dead_letters_workers_and_push_failures() -> None:
    probe = WorkerProbe(
        url="http://w1",
        alive=True,
        name="worker-1",
        partitions=(0, 1),
        push={"phones": {"delivered": 5, "failed": 2}, "community-a": {"failed": 1}},
    )
    dead = WorkerProbe(url="http://w2", alive=False)
    s1 = sample(100.0, 10, 30)
    s2 = sample(
        102.0,
        30,
        70,
        dead=3,
        committed={("app", "t.commands", 0): 25, ("app-record", "t.events", 0): 70},
        members=(f"app.worker-1.6066-{U1}", f"app.worker-9.6075-{U2}"),
        workers=(probe, dead),
    )
    view = health_view([s1, s2], TOPICS, "app", GROUPS)
    assert view["rates"] == [
        {"at": 102.0, "commands_per_s": 10.0, "events_per_s": 20.0, "dead_letters": 3}
    ]
    assert view["dead_letters"] == 3
    assert [(r["group"], r["topic"], r["partition"], r["lag"]) for r in view["lag"]] == [
        ("app", "t.commands", 0, 5),
        ("app", "t.commands", 1, 0),  # nothing there, nothing committed
        ("app", "t.events", 0, 70),  # never committed: all of it is still to read
        ("app-record", "t.events", 0, 0),
    ]
    workers = {w["name"]: w for w in view["workers"]}
    assert workers["worker-1"]["alive"] is True and workers["worker-1"]["in_group"] is True
    assert workers["http://w2"]["alive"] is False
    assert workers["worker-9"] == {
        "name": "worker-9",
        "url": None,
        "alive": None,
        "in_group": True,
        "partitions": [],
    }
    assert view["push"] == [
        {"endpoint": "community-a", "delivered": 0, "failed": 1},
        {"endpoint": "phones", "delivered": 5, "failed": 2},
    ]


def test_no_samples_and_a_broker_that_restarted() -> None:
    assert health_view([], TOPICS, "app", GROUPS)["rates"] == []
    # End offsets that went down (a new broker) count as no growth, never negative.
    view = health_view([sample(0.0, 50, 50), sample(1.0, 0, 0)], TOPICS, "app", GROUPS)
    assert view["rates"][0]["commands_per_s"] == 0.0


def test_an_uncommitted_partition_lags_by_all_it_retains() -> None:
    """A new group, or a partition nobody committed on, reads from the log start (every
    group starts at the earliest offset): its lag is end − log start, marked so."""
    s = Sample(
        at=1.0,
        ends={("t.commands", 0): 40, ("t.commands", 1): 90, ("t.events", 0): 12},
        starts={("t.commands", 0): 0, ("t.commands", 1): 30, ("t.events", 0): 10},
        committed={("app", "t.commands", 0): 40, ("app-record", "t.events", 0): 4},
    )
    rows = {
        (r["group"], r["topic"], r["partition"]): r
        for r in health_view([s], TOPICS, "app", GROUPS)["lag"]
    }
    assert rows[("app", "t.commands", 1)] == {
        "group": "app",
        "topic": "t.commands",
        "partition": 1,
        "committed": None,
        "no_commit": True,
        "end": 90,
        "lag": 60,
    }
    assert (rows[("app", "t.commands", 0)]["lag"], rows[("app", "t.commands", 0)]["no_commit"]) == (
        0,
        False,
    )
    assert rows[("app", "t.events", 0)]["lag"] == 2
    # A commit the retention has overtaken: the group resumes at the log start.
    assert rows[("app-record", "t.events", 0)]["lag"] == 2
    assert set(rows) == {
        ("app", "t.commands", 0),
        ("app", "t.commands", 1),
        ("app", "t.events", 0),
        ("app-record", "t.events", 0),
    }


def test_worker_names_from_static_member_ids() -> None:
    assert worker_name(f"neighbour-dispatch.worker-2.6067-{U1}", "neighbour-dispatch") == "worker-2"
    # A member without a static id (the client id and a uuid) is shown as it is.
    assert worker_name(f"faust-0.15.3-{U1}", "neighbour-dispatch") == f"faust-0.15.3-{U1}"
