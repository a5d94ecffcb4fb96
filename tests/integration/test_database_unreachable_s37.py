"""PostgreSQL out of reach on the routes other than the intake: 503 `database_unavailable`
with Retry-After, never a bare 500 (session 37).

Before: only the intake (`POST /v1/messages`, `/v1/requests`, the platform callbacks) and a
staff request's audit answered the outage; everywhere else the connection error went up to
Starlette's ServerErrorMiddleware as `500 Internal Server Error`, which tells a bot, a
helper's link or a household's card nothing (and a 500 reads as our bug, not as "retry").
Now one app-level handler (`errors.database_unreachable`) answers what no route answers
itself. The outage is real and local to one in-process API: its PostgreSQL DSN names a
loopback port nothing listens on (the shared stack keeps running for the other tests).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.api.invites import invite_token
from dispatcher.api.producer import KafkaCommandSink
from dispatcher.clock import utcnow
from dispatcher.groupchat.bots import BotConfig, BotRegistry, GroupPlace
from dispatcher.links import offer_token
from dispatcher.recipient_links import recipient_token
from dispatcher.settings import Settings
from dispatcher.testing.ports import free_port
from dispatcher.testing.stack import LocalStack
from tests.support.bot import bound_payload, sign

COMMUNITY = "pgdown37"
SECRET = "whsec_" + base64.b64encode(b"pgdown37-bot-secret-0123456789").decode()
CARD = "card-token-0123456789abcdef"
REQUEST_ID = "req-pgdown-1"
JOIN_FORM = urlencode(
    {"name": "林", "phone": "13900001111", "compound": "和平小区", "building": "3号楼"}
).encode()


def bots() -> BotRegistry:
    bot = BotConfig(
        bot_id="pg-bot",
        secrets=(SecretStr(SECRET),),
        communities=frozenset({COMMUNITY}),
        groups={"g1": GroupPlace(community_id=COMMUNITY, compound_id="cp1")},
    )
    return BotRegistry.from_list([bot])


@pytest.fixture
async def down(stack: LocalStack) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    dsn = f"postgresql://dispatch@127.0.0.1:{free_port()}/dispatch"  # nothing listens there
    settings = stack.settings(pg_dsn=dsn)
    deps = ApiDeps(settings=settings, sink=KafkaCommandSink(settings), bots=bots())
    # What the framework would answer, not the exception: a 500 is an answer too.
    transport = httpx.ASGITransport(app=create_app(settings, deps), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
            yield c, settings
    finally:
        await deps.close()


def bot_headers(method: str, path: str, body: bytes = b"") -> dict[str, str]:
    headers = sign(bound_payload(method, path, body), secret=SECRET)
    return headers | {"x-bot-id": "pg-bot", "content-type": "application/json"}


def calls(settings: Settings) -> list[tuple[str, str, dict[str, str], bytes]]:
    """(method, path, headers, body): a bot's, staff's, a helper's offer link, a household's
    card, a recipient's link, a self-registration. (Those that need no PostgreSQL, such as
    a helper's status link, which only queues a command, are not here.)"""
    later = utcnow() + timedelta(hours=1)
    staff = {"authorization": f"Bearer {settings.staff_token.get_secret_value()}"}
    offer = offer_token(
        settings,
        action="accept",
        request_id=REQUEST_ID,
        offer_id="offer-1",
        helper_id="h1",
        community_id=COMMUNITY,
        expires_at=later,
    )
    recipient = recipient_token(
        settings,
        action="claim",
        request_id=REQUEST_ID,
        community_id=COMMUNITY,
        recipient="r1",
        role="grid",
        expires_at=later,
    )
    invite = invite_token(settings, community_id=COMMUNITY, expires_at=later)
    cancel = json.dumps({"request_id": REQUEST_ID, "reason": "已解决"}).encode()
    resolve = json.dumps({"request_id": REQUEST_ID}).encode()
    status_path = f"/v1/requests/{REQUEST_ID}"
    cancel_path, resolve_path = f"{status_path}/cancel", f"{status_path}/resolve"
    form = {"content-type": "application/x-www-form-urlencoded"}
    return [
        ("GET", status_path, bot_headers("GET", status_path), b""),
        ("POST", cancel_path, bot_headers("POST", cancel_path, cancel), cancel),
        ("POST", resolve_path, bot_headers("POST", resolve_path, resolve), resolve),
        ("GET", status_path, staff, b""),
        ("POST", cancel_path, staff | {"content-type": "application/json"}, cancel),
        ("GET", f"/v1/staff/communities/{COMMUNITY}/registrations", staff, b""),
        ("GET", f"/card/{CARD}", {}, b""),
        ("POST", f"/card/{CARD}", {"content-type": "application/json"}, b'{"category":"errand"}'),
        ("GET", f"/l/o/{offer}", {}, b""),
        ("POST", f"/l/o/{offer}", form, b""),
        ("GET", f"/l/w/{recipient}", {}, b""),
        ("POST", f"/join/{invite}", form, JOIN_FORM),
    ]


async def test_every_route_answers_503_with_a_reason_and_retry_after(
    down: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, settings = down
    answers = {}
    for n, (method, path, headers, body) in enumerate(calls(settings)):
        r = await client.request(method, path, headers=headers, content=body)
        answers[f"{n} {method} {path}"] = (r.status_code, r.headers.get("retry-after"), r.text)
    wrong = {
        call: answer
        for call, answer in answers.items()
        if answer[0] != 503 or answer[1] is None or int(answer[1]) < 1
    }
    assert not wrong, [(call[:32], a[0], a[2][:40]) for call, a in wrong.items()]
    for _, _, text in answers.values():
        assert json.loads(text)["detail"]["reason"] == "database_unavailable", text
