"""`bench e2e`'s pure parts: the synthetic city, distinct incidents, signing, statistics,
the ceiling search and the bookkeeping of what was observed (no Kafka, no subprocess)."""

from __future__ import annotations

import os
import time

import pytest
from pydantic import SecretStr

from dispatcher.api import webhook_signature as ws
from dispatcher.api.admin import HelperIn
from dispatcher.api.command_queue import MERGE_WINDOW_S
from dispatcher.api.models import HelpRequestIn
from dispatcher.bench.e2e_city import (
    KINDS,
    IncidentKeys,
    KeysExhaustedError,
    RequestFactory,
    build_city,
)
from dispatcher.bench.e2e_load import RunResult, Sent, latencies
from dispatcher.bench.e2e_observe import Observations, signed_headers
from dispatcher.bench.e2e_options import MAX_RATE, community_partitions, next_probe
from dispatcher.bench.e2e_stack import BOT_ID, BOT_SECRET
from dispatcher.bench.e2e_stats import headline, ratio, summarize
from dispatcher.groupchat.bots import secret_key


def test_city_is_deterministic_and_sized() -> None:
    a = build_city(3, 50, seed=7)
    b = build_city(3, 50, seed=7)
    assert a.helpers == b.helpers
    assert len(a.helpers) == 150
    assert len({h["helper_id"] for h in a.helpers}) == 150
    assert build_city(3, 50, seed=8).helpers != a.helpers
    summary = a.summary()
    assert summary["communities"] == 3 and summary["party_members"] > 0
    default = build_city(6, 200, seed=7).summary()  # the default city
    assert {"driving", "doctor", "nurse", "carrying", "plumbing"} <= set(default["skills"])


def test_helpers_are_valid_admin_bodies() -> None:
    city = build_city(2, 80, seed=1)
    for body in city.helpers:
        helper = HelperIn.model_validate(body)
        assert helper.to_profile().community_id in city.communities
        assert body["channels"] == ["webhook:default"]


def test_requests_are_valid_and_distinct_incidents() -> None:
    """No two requests share the API's merge key (community, compound, building, category)."""
    city = build_city(2, 40, seed=3)
    factory = RequestFactory(city, seed=3, bot_id=BOT_ID, run_tag="t")
    keys = set()
    messages = set()
    for body in factory.batch(2000):
        r = HelpRequestIn.model_validate(body)
        p = r.place
        key = (p.community_id, p.compound_id, p.building_id, r.category)
        assert key not in keys
        keys.add(key)
        messages.add(r.source.message_id if r.source else None)
    assert len(messages) == 2000
    assert MERGE_WINDOW_S == 15 * 60  # what the distinct keys are for


def test_request_mix_is_realistic_while_keys_are_plentiful() -> None:
    city = build_city(4, 40, seed=5)
    bodies = list(RequestFactory(city, seed=5, bot_id=BOT_ID, run_tag="t").batch(1000))
    categories = {b["category"] for b in bodies}
    urgencies = {b["urgency"] for b in bodies}
    assert len(categories) == len(KINDS)
    assert urgencies == {"critical", "urgent", "normal", "low"}
    errands = sum(1 for b in bodies if b["category"] == "errand")
    lost = sum(1 for b in bodies if b["category"] == "lost_person")
    assert errands > 2 * lost  # weights, not a uniform draw


def test_incident_keys_run_out_loudly() -> None:
    city = build_city(1, 10, seed=2)
    keys = IncidentKeys(city, seed=2)
    for _ in range(keys.capacity):
        keys.take()
    assert keys.remaining == 0
    with pytest.raises(KeysExhaustedError):
        keys.take()


def test_released_incident_keys_make_new_incidents_and_no_key_is_lent_twice() -> None:
    city = build_city(1, 10, seed=2)
    factory = RequestFactory(city, seed=4, bot_id=BOT_ID, run_tag="t")
    capacity = factory.keys.capacity

    def key(body: dict[str, object]) -> tuple[object, ...]:
        place = body["place"]
        assert isinstance(place, dict)
        return (place["compound_id"], place["building_id"], body["category"])

    first = [factory.make() for _ in range(capacity)]
    assert len({key(b) for b in first}) == capacity  # every key in use once
    with pytest.raises(KeysExhaustedError):
        factory.make()
    # Three requests closed: their keys, and only theirs, come back.
    closed = first[5:8]
    assert factory.release(b["source"]["message_id"] for b in closed) == 3  # type: ignore[index]
    assert factory.release(b["source"]["message_id"] for b in closed) == 0  # type: ignore[index]
    assert factory.release(["never-made"]) == 0
    again = [factory.make() for _ in range(3)]
    assert {key(b) for b in again} == {key(b) for b in closed}
    assert factory.keys.released == 3
    with pytest.raises(KeysExhaustedError):
        factory.make()


def test_bench_bot_signature_verifies_with_the_api() -> None:
    body = b'{"hello":"world"}'
    now = int(time.time())
    h = signed_headers(BOT_SECRET, BOT_ID, "msg_1", now, body)
    assert h["x-bot-id"] == BOT_ID
    headers = ws.parse_headers(h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"])
    signed = ws.bound_payload("POST", "/v1/requests", body)
    ws.verify([secret_key(SecretStr(BOT_SECRET))], headers, signed, now, ws.TOLERANCE_S)
    with pytest.raises(ws.SignatureError):
        ws.verify([secret_key(SecretStr(BOT_SECRET))], headers, body, now, ws.TOLERANCE_S)


def test_percentiles_and_ratios() -> None:
    assert summarize([]) == {"p50_ms": None, "p99_ms": None, "max_ms": None}
    s = summarize([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert (s["p50_ms"], s["p99_ms"], s["max_ms"]) == (50.0, 99.0, 100.0)
    assert ratio(10.0, 2.0) == 5.0
    assert ratio(None, 2.0) is None and ratio(1.0, 0.0) is None


def test_ceiling_search_doubles_then_bisects() -> None:
    assert next_probe(0.0, None, 100.0) == 100.0
    assert next_probe(100.0, None, 100.0) == 200.0
    assert next_probe(100.0, 200.0, 100.0) == 150.0
    assert next_probe(150.0, 160.0, 100.0) is None  # within 10 %
    assert next_probe(MAX_RATE, None, 100.0) is None  # bounded
    assert next_probe(0.0, 50.0, 50.0) == 25.0


def test_community_partitions_are_stable() -> None:
    parts = community_partitions(["a", "b", "c"], 8)
    assert parts == community_partitions(["a", "b", "c"], 8)
    assert all(0 <= p < 8 for p in parts.values())


def _run(
    offered: float, latencies: list[float | None], send_delay: float = 0.0
) -> tuple[RunResult, dict[str, float]]:
    """Requests scheduled at `offered`/s; each left `send_delay` s late (held by the
    in-flight cap) and arrived `lat` s after it actually left."""
    result = RunResult(offered_rate=offered, planned=len(latencies))
    arrived: dict[str, float] = {}
    for i, lat in enumerate(latencies):
        due = 100.0 + i / offered
        s = Sent(scheduled=due, at=due + send_delay, status=202, request_id=f"r{i}")
        s.answered_at = s.at + 0.01
        result.sent.append(s)
        if lat is not None:
            arrived[f"r{i}"] = s.at + lat
    result.send_window_s = len(latencies) / offered
    return result, arrived


def test_scenario_and_sustainability() -> None:
    result, arrived = _run(100.0, [0.05] * 200)
    s = result.scenario("intake_to_first_offer", arrived)
    assert s["count"] == 200 and s["missing"] == 0 and s["rate"] == 100.0
    assert s["p50_ms"] == s["p99_ms"] == s["max_ms"] == 50.0
    assert result.sustainable(arrived)

    slow, arrived = _run(100.0, [0.05] * 190 + [1.5] * 10)
    assert not slow.sustainable(arrived)  # p99 over 1 s

    lossy, arrived = _run(100.0, [0.05] * 190 + [None] * 10)
    assert lossy.scenario("x", arrived)["missing"] == 10
    assert not lossy.sustainable(arrived)

    stopped, arrived = _run(100.0, [0.05] * 200)
    stopped.stopped_early = "overloaded"
    assert not stopped.sustainable(arrived)


def test_the_part_after_the_202_is_timed_from_each_answer() -> None:
    # Answered 10 ms after the send; offers 50 ms after it, one before the answer arrived.
    result, arrived = _run(100.0, [0.05] * 199 + [0.004] + [None])
    s = result.answered_scenario("answer_to_first_offer", arrived)
    assert s["count"] == 200  # the one without an offer left out
    assert s["p50_ms"] == 40.0 and s["max_ms"] == 40.0
    assert min(arrived[f"r{i}"] - result.sent[i].answered_at for i in range(200)) < 0
    assert result.answered_scenario("x", {})["p50_ms"] is None


def test_latency_counts_from_the_schedule_not_from_the_send() -> None:
    # Every request waited 0.8 s for a free slot, then took 0.3 s: a closed-loop clock
    # (started at the send) sees 300 ms; the open-loop one sees the 1.1 s users waited.
    result, arrived = _run(100.0, [0.3] * 200, send_delay=0.8)
    s = result.scenario("intake_to_first_offer", arrived)
    assert s["sent_p99_ms"] == 300.0
    assert s["p99_ms"] == 1100.0
    assert not result.sustainable(arrived)  # the ceiling is judged open loop
    http = result.http_scenario()
    assert http["sent_p50_ms"] == 10.0 and http["p50_ms"] == 810.0
    assert latencies(result.accepted(), arrived, "scheduled") == pytest.approx([1.1] * 200)
    assert latencies(result.accepted(), arrived, "sent") == pytest.approx([0.3] * 200)

    prompt, arrived = _run(100.0, [0.3] * 200)
    assert prompt.scenario("x", arrived)["p99_ms"] == 300.0
    assert prompt.sustainable(arrived)


def test_the_generators_own_lateness_is_reported_beside_the_latencies() -> None:
    late, arrived = _run(100.0, [0.3] * 200, send_delay=0.8)
    assert late.http_scenario()["generator_lateness_p50_ms"] == 800.0
    assert late.scenario("x", arrived)["generator_lateness_p99_ms"] == 800.0
    prompt, arrived = _run(100.0, [0.3] * 200)
    assert prompt.http_scenario()["generator_lateness_p99_ms"] == 0.0


def test_the_intakes_phases_come_from_each_answers_server_timing() -> None:
    # Every 202 took 10 ms from the send; the API timed 7 ms of it in its phases.
    result, _ = _run(100.0, [0.05] * 200)
    assert result.http_scenario()["phases"] is None  # no answer carried Server-Timing
    for i, s in enumerate(result.sent):
        statement = 3.0 if i < 150 else 5.0
        s.phases = {"auth": 0.5, "statement": statement, "queue": 1.5, "total": 7.0}
    result.sent.append(Sent(scheduled=0.0, at=0.0, status=401))  # refused: not counted
    phases = result.http_scenario()["phases"]
    assert list(phases) == ["auth", "statement", "queue", "total", "outside_app"]
    assert (phases["statement"]["p50_ms"], phases["statement"]["p99_ms"]) == (3.0, 5.0)
    assert phases["total"]["p50_ms"] == 7.0
    assert phases["outside_app"]["p50_ms"] == pytest.approx(3.0)  # 10 ms seen − 7 ms timed


def test_deadline_lateness_matches_in_either_order() -> None:
    obs = Observations()
    obs.note_deadline("c1", due=1000.0, now=1.0)
    obs.note_caused("c1", occurred=1000.25, now=2.0)
    obs.note_caused("c2", occurred=2000.5, now=3.0)  # the event came first
    obs.note_deadline("c2", due=2000.0, now=4.0)
    obs.note_caused("c3", occurred=5.0, now=5.0)  # not caused by a deadline: unmatched
    assert obs.lateness == [(2.0, 0.25), (4.0, 0.5)]


def _fixed(name: str, offered: float, **fields: object) -> dict[str, object]:
    return {"name": name, "offered_rate": offered, "kind": "fixed_rate", **fields}


def test_headline_figures() -> None:
    cpu50 = {"total": 30.0, "per_process": {"api": 10.0}, "requests": 500}
    cpu200 = {"total": 12.0, "per_process": {"api": 4.0}, "requests": 2000}
    fixed = [
        _fixed("intake_to_first_offer", 50.0, rate=50.0, p50_ms=20.0, p99_ms=40.0,
               sent_p99_ms=30.0, cpu_ms_per_request=cpu50),
        _fixed("intake_http_202", 50.0, p50_ms=3.0, p99_ms=9.0, sent_p50_ms=2.0, sent_p99_ms=8.0,
               phases={"statement": {"p50_ms": 1.0}}),
        _fixed("intake_to_first_offer", 200.0, rate=190.0, p50_ms=80.0, p99_ms=900.0,
               sent_p99_ms=200.0, cpu_ms_per_request=cpu200),
        _fixed("intake_http_202", 200.0, p50_ms=30.0, p99_ms=90.0, sent_p50_ms=5.0,
               sent_p99_ms=9.0),
    ]  # fmt: skip
    h = headline(fixed, {"p50_ms": 1.0, "p99_ms": 4.0}, 150.0)
    assert h["ceiling_req_s_one_worker"] == 150.0
    assert (h["intake_p50_ms"], h["intake_p99_ms"], h["intake_offered_rate"]) == (3.0, 9.0, 50.0)
    assert h["intake_phases_ms"] == {"statement": {"p50_ms": 1.0}}  # at the intake rate
    assert h["e2e_p99_over_floor"] == 10.0 and h["e2e_p99_over_floor_sent"] == 7.5
    cpu = h["cpu_ms_per_request"]
    assert cpu["total"] == 12.0 and cpu["offered_rate"] == 200.0  # the busiest run
    assert cpu["by_offered_rate"] == {"50.0": 30.0, "200.0": 12.0}
    empty = headline([], {"p50_ms": 1.0, "p99_ms": 4.0}, None)
    assert empty["cpu_ms_per_request"] is None and empty["intake_p50_ms"] is None
    assert empty["intake_phases_ms"] is None


def test_floor_reports_p99_per_block_in_sending_order() -> None:
    from dispatcher.bench.e2e_floor import block_p99s, unsteady
    from dispatcher.bench.e2e_report import floor_line

    quiet, stall = [0.001] * 300, [0.001] * 290 + [0.040] * 10  # a 40 ms stall: 10 records
    assert block_p99s(quiet + stall + quiet + quiet) == [1.0, 40.0, 1.0, 1.0]
    assert block_p99s([0.002] * 8) == [2.0] * 4 and block_p99s([]) == []
    line = floor_line(
        {
            "p50_ms": 0.9,
            "p99_ms": 4.2,
            "count": 1000,
            "warmup": 200,
            "p99_by_block_ms": [4.0, 4.2, 3.9, 4.1],
            "ack_p99_ms": 3.8,
        }
    )
    assert "1000 round trips after 200 warm-up" in line and "[4.0, 4.2, 3.9, 4.1]" in line
    assert unsteady({"p99_by_block_ms": [4.0, 4.2, 3.9, 4.1]}) is None
    note = unsteady({"p99_by_block_ms": [4.0, 40.0, 3.9, 4.1], "load_avg_1m": [9.5, 11.0]})
    assert note is not None and "not comparable" in note


def test_cpu_line_shows_the_system_under_test_beside_the_harness() -> None:
    from dispatcher.bench.e2e_report import cpu_line

    cpu = {
        "total": 9.5,
        "service_total": 8.0,
        "harness_total": 1.5,
        "per_process": {"api": 3.0, "worker-1": 5.0, "load_generator": 0.5, "receiver": 1.0},
        "offered_rate": 200.0,
    }
    line = cpu_line(cpu)
    assert "200/s: 9.5 = system under test 8.0 + harness 1.5" in line
    assert "load_generator 0.5" in line and "receiver 1.0" in line


def test_a_processs_age_comes_from_its_start_ticks_and_the_uptime() -> None:
    from dispatcher.bench.e2e_cpu import age_s, parse_start_ticks, process_age_s

    # A name with spaces and parentheses; starttime (field 22) is 5000 ticks after boot.
    fields = ["S", "1", *["0"] * 17, "5000", "0"]
    stat = "4242 (java (kafka) x) " + " ".join(fields)
    assert parse_start_ticks(stat) == 5000
    assert age_s(stat, "150.00 300.00\n", 100) == 100.0
    age = process_age_s(os.getpid())
    assert age is not None and age >= 0  # this test process
    assert process_age_s(2**22 + 12345) is None  # no such process


def test_a_young_broker_is_warmed_before_the_floor_is_measured() -> None:
    from dispatcher.bench.e2e_floor import YOUNG_BROKER_S, warmup_count

    assert warmup_count(200.0, 30.0, 75.0) == 15_000  # 75 s of round trips at 200/s
    assert warmup_count(200.0, YOUNG_BROKER_S + 1, 75.0) is None  # settled: the default
    assert warmup_count(200.0, None, 75.0) is None  # a broker we cannot see
    assert warmup_count(200.0, 30.0, 0.0) is None  # switched off
    assert warmup_count(1.0, 30.0, 10.0) == 100  # never fewer than the default's minimum


def test_the_ratios_use_the_floor_with_the_lower_p99() -> None:
    from dispatcher.bench.e2e_floor import lower_floor

    cold, warm = {"p50_ms": 1.5, "p99_ms": 5.8}, {"p50_ms": 0.8, "p99_ms": 1.7}
    assert lower_floor(cold, warm) == (warm, "after")
    assert lower_floor(warm, cold) == (warm, "before")
    assert lower_floor(cold, None) == (cold, "before")  # the run stopped before the second
    assert lower_floor(cold, {"p50_ms": None, "p99_ms": None}) == (cold, "before")
    empty = {"p50_ms": None, "p99_ms": None}  # a floor that received nothing
    assert lower_floor(empty, warm) == (warm, "after")


def test_a_workers_line_tells_early_pushes_from_those_of_records_read_first() -> None:
    from dispatcher.bench.e2e_report import worker_line

    ws = {
        "worker": "worker-1",
        "partitions": [0, 1],
        "commands": 10,
        "events": 12,
        "notify_early": 9,
        "notify_from_record": 3,
        "table_writes": 20,
        "dead_letters": 0,
        "deadline_lateness_s": {},
    }
    line = worker_line(ws)
    assert "events 12 (pushed early/from their record 9/3)" in line
    assert "table writes 20" in line
