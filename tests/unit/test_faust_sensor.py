"""The lean Faust sensor (dispatcher/ops/faust_sensor.py) exports what Faust's own
`PrometheusMonitor` exports for the same calls, including after a rebalance cleared the
per-partition children (a cached child that the registry no longer holds would be lost)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest

from dispatcher.ops.faust_sensor import LeanPrometheusMonitor

COMMANDS, EVENTS = TP("commands", 3), TP("events", 3)


class Owner:  # Faust's monitors keep weak references to streams and their tasks
    def __str__(self) -> str:
        return "dispatch"


class Stream:
    shortlabel, task_owner = "Stream: Topic: commands", Owner()


STREAM = Stream()


def drive(monitor: PrometheusMonitor) -> None:
    stream = STREAM
    table = SimpleNamespace(name="helpers")
    message: Any = SimpleNamespace(time_in=None)
    for offset in (7, 8):
        monitor.on_message_in(COMMANDS, offset, message)
        monitor.on_stream_event_in(COMMANDS, offset, stream, message)  # type: ignore[arg-type]
        monitor.on_table_set(table, b"h1", b"v")  # type: ignore[arg-type]
        monitor.on_table_get(table, b"h1")  # type: ignore[arg-type]
        monitor.on_table_del(table, b"h1")  # type: ignore[arg-type]
        monitor.on_send_initiated(None, "events", message, 2, 10)  # type: ignore[arg-type]
        monitor.track_tp_end_offset(EVENTS, offset)
        monitor.on_tp_commit({COMMANDS: offset})


def exported(monitor_class: type[PrometheusMonitor]) -> list[str]:
    registry = CollectorRegistry()
    monitor = monitor_class(metrics=FaustMetrics.create(registry, "t"))
    drive(monitor)
    monitor._clear_partition_related_metrics()  # what a rebalance does
    drive(monitor)
    lines = generate_latest(registry).decode().splitlines()
    return [line for line in lines if not line.startswith("#") and "_created" not in line]


async def test_the_lean_sensor_exports_the_same_samples_as_faust_own() -> None:
    lean = exported(LeanPrometheusMonitor)
    assert lean == exported(PrometheusMonitor)
    assert 't_messages_received_per_topics_partition{partition="3",topic="commands"} 8.0' in lean
    assert 't_table_operations_total{operation="keys_updated",table="table.helpers"} 4.0' in lean
