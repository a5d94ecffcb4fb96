"""The machine-speed figures `bench e2e` and `bench match` print beside their own: a real
ping-pong with a second process over loopback TCP, and the fixed Python workload."""

from __future__ import annotations

from dispatcher.bench import e2e_compare, machine_speed


def test_loopback_round_trips_with_a_second_process() -> None:
    speed = machine_speed.loopback(round_trips=300, warm_up=20)
    # A round trip takes both processes' time: at least one system call each way, and no
    # more than the test's patience (the echo answers at once).
    assert 0 < speed["loopback_round_trip_us"] <= speed["loopback_round_trip_p99_us"] < 1e6
    # Both sides' CPU, the echo's reported over the socket: two sends and two receives
    # per round trip cannot cost nothing.
    assert speed["loopback_cpu_us"] > 0


def test_python_workload_is_fixed_work() -> None:
    assert machine_speed._python_work() == machine_speed._python_work()
    assert machine_speed.python_ms(rounds=2) > 0


def test_speed_reaches_the_table_and_the_comparison() -> None:
    speed = {
        "python_ms": 14.5,
        "loopback_round_trip_us": 61.0,
        "loopback_round_trip_p99_us": 110.0,
        "loopback_cpu_us": 50.0,
    }
    line = machine_speed.line(speed)
    assert "14.5 ms" in line and "61.0 µs" in line and "50.0 µs CPU" in line
    figures = e2e_compare._figures({"machine": {"cores": 2, "speed": speed}})
    assert figures["machine.python_ms"] == 14.5
    assert figures["machine.loopback_cpu_us"] == 50.0
    # A run of a tree from before the figures: nothing, rather than an error.
    assert not any(k.startswith("machine.") for k in e2e_compare._figures({"machine": {}}))
