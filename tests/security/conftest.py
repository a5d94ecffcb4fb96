"""Attack tests: each performs one attack from issue 12 and asserts the refusal.

Tests that take a `stack` run against the real local Kafka and PostgreSQL (the shared
fixtures of tests/conftest.py: an isolated namespace per module) and a real API/worker
subprocess; the others attack a pure function or a process that refuses to start.
"""
