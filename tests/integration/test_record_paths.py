"""The set-based recording path writes exactly the read models the per-event path writes
(same events from the real core, two fresh databases, compared row by row)."""

from __future__ import annotations

from dispatcher.bench.record import compare, generate_events
from dispatcher.testing.stack import LocalStack


async def test_set_based_recording_equals_per_event(stack: LocalStack) -> None:
    # `stack` ensures PostgreSQL is up; compare() makes and drops its own databases.
    result = await compare(requests=150, helpers=400, batch=50, seed=3, base_dsn=stack.pg_dsn)
    assert result["events"] > 150 * 3  # opened, offers, assignment, stand-downs per request
    assert result["read_models_equal"] is True
    # Every kind the set-based path groups into runs is in those events.
    kinds = {e.body.type for e in generate_events(150, 400, 3)}
    assert {"offers_sent", "offer_declined", "offers_stood_down", "helper_assigned"} <= kinds
