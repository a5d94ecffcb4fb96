"""The API reads the wall clock only through `ApiDeps.clock`: a test that sets it decides
commands' issued_at and when a staff session ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dispatcher.api.app import create_app
from dispatcher.api.auth import SESSION_SECONDS
from dispatcher.api.command_queue import send_command
from dispatcher.api.deps import ApiDeps
from dispatcher.settings import Settings
from schemas.commands import Command, DeactivateHelper

T0 = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingSink:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, topic: str, key: str, value: bytes) -> None:
        self.sent.append(value)

    async def check(self) -> None: ...


class AuditPool:
    """Takes the staff audit rows (a sign-in is one): the only statement these tests run."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        assert sql.startswith("INSERT INTO staff_audit"), sql
        self.rows.append(args)
        return "INSERT 0 1"


def deps(clock: Clock, sink: RecordingSink) -> ApiDeps:
    settings = Settings(staff_token="s3cret")  # type: ignore[arg-type]
    return ApiDeps(settings=settings, sink=sink, clock=clock, _pool=AuditPool())


async def test_a_command_is_issued_at_the_injected_time() -> None:
    sink = RecordingSink()
    api = deps(Clock(T0), sink)
    await send_command(api, DeactivateHelper(helper_id="h1"), "c1")
    command = Command.model_validate_json(sink.sent[0])
    assert command.issued_at == T0
    assert api.wall() == T0.timestamp()


async def test_a_staff_session_ends_by_the_injected_clock() -> None:
    clock, sink = Clock(T0), RecordingSink()
    api = deps(clock, sink)
    app = create_app(api.settings, api)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.post("/dashboard/login", data={"token": "s3cret"})).status_code == 303
        clock.now = T0 + timedelta(seconds=SESSION_SECONDS - 60)
        assert "dashboard.js" in (await c.get("/dashboard")).text
        clock.now = T0 + timedelta(seconds=SESSION_SECONDS + 60)
        assert "Staff token" in (await c.get("/dashboard")).text
