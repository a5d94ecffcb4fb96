"""`bench e2e`'s PostgreSQL statement report (dispatcher/bench/e2e_pg.py): the arithmetic of
two snapshots of pg_stat_statements, per dispatched request, and its printed lines."""

from __future__ import annotations

from dispatcher.bench.e2e_pg import Counters, per_request, pg_lines, shorten

INTAKE = "SELECT replayed FROM api_submit_signed($1, $2)"
EVENTS = "INSERT INTO event_log (event_id)\n   SELECT * FROM unnest($1)"


def test_the_run_is_the_difference_of_the_two_snapshots_per_request() -> None:
    before = {1: Counters(INTAKE, 100, 40.0, 100), 2: Counters(EVENTS, 5, 10.0, 50)}
    after = {
        1: Counters(INTAKE, 300, 120.0, 300),  # 200 calls, 80 ms during the run
        2: Counters(EVENTS, 45, 130.0, 900),  # 40 calls, 120 ms
        3: Counters("SELECT 1", 10, 1.0, 10),  # new during the run
        4: Counters("SELECT 2", 7, 3.0, 7),  # not called during the run: left out
    }
    before[4] = after[4]
    pg = per_request(before, after, requests=200, top=2)
    assert pg["requests"] == 200
    assert pg["exec_ms_per_request"] == round(201.0 / 200, 3)
    assert pg["calls_per_request"] == round(250 / 200, 2)
    first, second = pg["top"]  # by time, the costliest first, only `top` of them
    assert first["query"] == "INSERT INTO event_log (event_id) SELECT * FROM unnest($1)"
    assert (first["calls_per_request"], first["mean_us"], first["ms_per_request"]) == (
        0.2,
        3000.0,
        0.6,
    )
    assert second["query"] == INTAKE and second["mean_us"] == 400.0
    assert first["share"] == round(120 / 201, 3)


def test_no_requests_does_not_divide_by_zero_and_long_statements_are_cut() -> None:
    long = "SELECT " + ", ".join(f"c{i}" for i in range(100)) + " FROM t"
    pg = per_request({}, {9: Counters(long, 2, 1.0, 2)}, requests=0, top=5)
    assert pg["exec_ms_per_request"] == 1.0
    assert len(pg["top"][0]["query"]) == 120 and pg["top"][0]["query"].endswith("…")
    assert shorten("a\n  b") == "a b"


def test_the_printed_lines_name_the_total_then_the_costliest() -> None:
    pg = per_request({}, {1: Counters(INTAKE, 4, 2.0, 4)}, requests=2, top=5)
    assert pg_lines(pg, 3) == [
        "PostgreSQL per request: 1.0 ms executing, 2.0 statements",
        f"1.000 ms (2.0 × 500.0 µs) {INTAKE}",
    ]
    assert pg_lines(None, 3) == []
