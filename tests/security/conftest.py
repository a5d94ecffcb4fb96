"""Attack tests: each performs one attack from issue 12 and asserts the refusal.

Tests that take a `stack` run against the real local Kafka and PostgreSQL (the integration
suite's fixtures: an isolated namespace per module) and a real API/worker subprocess; the
others attack a pure function or a process that refuses to start.
"""

from __future__ import annotations

from tests.integration.conftest import _no_phone_in_any_log, _stack_running, stack

__all__ = ["_no_phone_in_any_log", "_stack_running", "stack"]
