"""Fuzz the HTTP layer from its own OpenAPI document (schemathesis + hypothesis): whatever a
caller sends, the answer is never a 5xx.

In-process API (uvicorn in a thread) with a fake command sink (Kafka is not what is under
test here) and a real PostgreSQL database (the API's own tables: replay ids, idempotency,
intake, link uses). Half the cases are correctly signed as a bot, and admin cases carry the
staff token half the time, so generated bodies reach validation and the handlers instead
of stopping at authentication.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.webhook_signature import bound_payload, signed_headers
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack, free_port

FUZZ_KEY = b"fuzz-bot-secret-0123456789"
EXAMPLES_PER_OPERATION = 120
SKIP_PREFIXES = ("/ops", "/metrics", "/dashboard")  # the ops engineer's routes (a live stream)

BOT = BotConfig(
    bot_id="fuzz-bot",
    secrets=(SecretStr("whsec_" + base64.b64encode(FUZZ_KEY).decode()),),
    communities=frozenset({"fuzz"}),
    groups={"fuzz-group": GroupPlace(community_id="fuzz", compound_id="c1")},
    rate_per_minute=1e9,
    burst=1e9,
    group_rate_per_minute=1e9,
    group_burst=1e9,
)


@dataclass
class FakeSink:
    sent: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def send(self, topic: str, key: str, value: bytes) -> None:
        self.sent.append((topic, key, value))

    async def check(self) -> None:
        return None


SCHEMA = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
OPERATIONS = [
    op.ok() for op in SCHEMA.get_all_operations() if not op.ok().path.startswith(SKIP_PREFIXES)
]
RESULTS: dict[str, Any] = {"cases": 0, "by_status": {}}


@pytest.fixture(scope="module")
def server(stack: LocalStack) -> Iterator[str]:
    cfg: Settings = stack.settings()
    app = create_app(cfg, ApiDeps(settings=cfg, sink=FakeSink(), bots=BotRegistry.from_list([BOT])))
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "in-process API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        print(f"\nfuzz: {RESULTS['cases']} cases, statuses {sorted(RESULTS['by_status'].items())}")


def _send(base: str, case: Any, sign: bool, staff: bool) -> httpx.Response:
    kw = case.as_transport_kwargs(base_url=base)
    headers = {k: v for k, v in (kw.get("headers") or {}).items() if v is not None}
    body: bytes = b""
    if kw.get("json") is not None or "json" in kw:
        body = json.dumps(kw["json"]).encode()
        headers["content-type"] = "application/json"
    elif kw.get("data") is not None:
        data = kw["data"]
        body = data if isinstance(data, bytes) else str(data).encode()
    url = httpx.URL(kw["url"], params=kw.get("params") or None)
    if sign:
        payload = bound_payload(kw["method"], url.raw_path.decode(), body or b"")
        headers.update({"x-bot-id": "fuzz-bot", **signed_headers([FUZZ_KEY], payload)})
    if staff:
        headers["authorization"] = "Bearer dev-staff-token"
    return httpx.request(kw["method"], url, content=body or None, headers=headers, timeout=30)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: f"{o.method.upper()} {o.path}")
def test_no_server_errors(server: str, operation: Any) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), sign=st.booleans(), staff=st.booleans())
    def check(case: Any, sign: bool, staff: bool) -> None:
        r = _send(server, case, sign, staff)
        RESULTS["cases"] += 1
        RESULTS["by_status"][r.status_code] = RESULTS["by_status"].get(r.status_code, 0) + 1
        assert r.status_code < 500, (
            f"{case.method} {case.formatted_path}: {r.status_code} {r.text[:300]}"
        )

    check()
