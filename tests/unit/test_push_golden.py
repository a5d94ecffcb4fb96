"""Every push, byte for byte: a fixed stream of events (offers to a private webhook and to a
WeCom group, an assignment, stand-downs, a cancellation, a welcome) planned by the real
DeliveryPlanner with real offer links, and turned into HTTP requests by the real channels,
one per delivery and merged/batched per wave, with a fixed clock and counted nonces. The
golden file was written by the code before the notify agent's CPU work (460b65c) and is
only compared here: a change to any header or body byte of any push fails this test.

Regenerate (only for an intended change of what is pushed):
    .venv/bin/python -m tests.unit.test_push_golden --pushes   # the pushes of the stored events
    .venv/bin/python -m tests.unit.test_push_golden --write    # a new stream from today's core
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from dispatcher.links import action_links, helper_link
from dispatcher.push import EndpointConfig, EndpointRegistry, PushKind
from dispatcher.push.batching import batch_id, merge_deliveries
from dispatcher.push.channels import make_channel
from dispatcher.push.channels.webhook import WebhookChannel
from dispatcher.push.deliveries import DeliveryPlanner
from dispatcher.recipient_links import recipient_links
from dispatcher.sealing import keyring
from dispatcher.settings import Settings
from schemas.events import Event
from schemas.records import HelperState, RequestState

RELAY_SECRET = "whsec_c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3M="  # the key b"s" * 32

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "push_golden.json"
WALL = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
SETTINGS = Settings.model_validate(
    {
        "public_base_url": "https://help.example/",
        "link_secret": "golden-link-secret-" + "l" * 32,
        "contact_key": "golden-contact-key-" + "c" * 32,
        "helper_id_key": "golden-helper-id-key-" + "h" * 32,
        "push_default_endpoint": "phones",
    }
)
ENDPOINTS = [
    {
        "name": "phones",
        "kind": "webhook",
        "url": "https://relay.example/push",
        "secret": RELAY_SECRET,
    },
    {"name": "grid-3", "kind": "wecom", "url": "https://robot.example/send", "token": "t0k3n"},
]
HEADERS = ("content-type", "content-length", "webhook-id", "webhook-timestamp", "webhook-signature")


@contextmanager
def counted_nonces() -> Iterator[None]:
    """The links' random nonces from a counter: the same events give the same bytes."""
    counter = iter(range(1 << 30))
    real = os.urandom
    os.urandom = lambda n: next(counter).to_bytes(4, "big") * (n // 4)
    try:
        yield
    finally:
        os.urandom = real


def _request(request: httpx.Request) -> dict[str, Any]:
    return {
        "method": request.method,
        "url": str(request.url),
        "headers": {h: request.headers[h] for h in HEADERS if h in request.headers},
        "body": request.content.decode("utf-8"),
    }


def capture(
    events: list[Event], helpers: dict[str, HelperState], requests: dict[str, RequestState]
) -> list[dict[str, Any]]:
    """Each event's deliveries as requests (one per delivery), then each wave's offers
    per endpoint as the lanes send them: one signed batch to the webhook, one merged
    @-message to the group robot."""
    registry = EndpointRegistry(EndpointConfig.model_validate(e) for e in ENDPOINTS)
    pushed_at = min(e.occurred_at for e in events)  # each pushed as it is decided
    planner = DeliveryPlanner(
        registry=registry,
        helper=helpers.get,
        request=requests.get,
        offer_links=partial(action_links, SETTINGS),
        recipient_links=partial(recipient_links, SETTINGS),
        keys=keyring(SETTINGS),
        public_base_url=SETTINGS.public_base_url,
        default_endpoint="phones",
        personal_link=lambda hid, cid, now: helper_link(
            SETTINGS, helper_id=hid, community_id=cid, now=now
        ),
        now=lambda: pushed_at,
    )
    client = httpx.AsyncClient()
    clock: Callable[[], float] = lambda: WALL  # noqa: E731
    channels = {e.name: make_channel(e, client, clock) for e in registry}
    out: list[dict[str, Any]] = []
    waves: dict[tuple[str, str], list[Any]] = {}
    with counted_nonces():
        for event in events:
            for d in planner.plan(event).deliveries:
                out.append(
                    {"event": event.event_id, **_request(channels[d.endpoint].build_request(d))}
                )  # type: ignore[attr-defined]
                if d.kind is PushKind.OFFER and d.batch_key is not None:
                    waves.setdefault((d.endpoint, d.batch_key), []).append(d)
    for (endpoint, key), wave in waves.items():
        channel = channels[endpoint]
        if isinstance(channel, WebhookChannel):
            request = channel.build_batch_request(batch_id(wave), wave)
        else:
            request = channel.build_request(merge_deliveries(wave))  # type: ignore[attr-defined]
        out.append({"wave": f"{endpoint} {key}", **_request(request)})
    return out


def _load() -> tuple[list[Event], dict[str, HelperState], dict[str, RequestState], Any]:
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    events = [Event.model_validate(e) for e in data["events"]]
    helpers = {k: HelperState.model_validate(v) for k, v in data["helpers"].items()}
    requests = {k: RequestState.model_validate(v) for k, v in data["requests"].items()}
    return events, helpers, requests, data["pushes"]


def test_every_push_is_byte_for_byte_the_golden_one() -> None:
    events, helpers, requests, golden = _load()
    pushes = capture(events, helpers, requests)
    assert len(pushes) == len(golden)
    for got, want in zip(pushes, golden, strict=True):
        assert got == want


def test_the_golden_stream_covers_every_kind_and_both_channels() -> None:
    _, _, _, golden = _load()
    kinds = {json.loads(p["body"]).get("data", {}).get("kind") for p in golden}
    assert {"offer", "assignment", "stand_down", "cancellation", "welcome"} <= kinds
    assert any("robot.example" in p["url"] for p in golden)
    assert any(p["headers"].get("webhook-id", "").startswith("batch-") for p in golden)


def _write() -> None:  # pragma: no cover - regeneration only
    from dispatcher.sealing import seal_profile
    from schemas.commands import CancelRequest, UpsertHelper
    from schemas.helper_messages import HelperWelcomed
    from schemas.vocab import Party, Skill
    from tests.unit.conftest import World

    world = World()
    ring = keyring(SETTINGS)
    for i, channels in enumerate(((), ("wecom:grid-3",), (), ("wecom:grid-3",), ())):
        hid = f"h{i}"
        world.helper(hid, skills=[Skill.DRIVING], phone=f"1391234567{i}")
        profile = world.state.helpers[hid].profile.model_copy(
            update={
                "channels": channels,
                "name": f"邻居{i}",
                "platform_user_id": f"wx-{i}" if i % 2 == 0 else None,
            }
        )
        world.run(UpsertHelper(profile=seal_profile(ring, profile)))
    world.submit("req-1", helpers_needed=1)
    world.accept(world.offered()[0], "req-1")
    world.submit("req-2", helpers_needed=1)
    world.run(CancelRequest(request_id="req-2", by=Party.REQUESTER))
    events = list(world.events)
    welcome = events[-1].model_copy(
        update={"event_id": "welcome-h0", "body": HelperWelcomed(helper_id="h0")}
    )
    events.append(welcome)
    helpers = dict(world.state.helpers)
    requests = dict(world.state.requests)
    pushes = capture(events, helpers, requests)
    data = {
        "events": [e.model_dump(mode="json") for e in events],
        "helpers": {k: v.model_dump(mode="json") for k, v in helpers.items()},
        "requests": {k: v.model_dump(mode="json") for k, v in requests.items()},
        "pushes": pushes,
    }
    GOLDEN.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(pushes)} pushes from {len(events)} events to {GOLDEN}")


def _write_pushes() -> None:  # pragma: no cover - regeneration only
    """Only the pushes, from the stored events and states: a text's change alone shows in
    the diff (`--write` also replays a new stream through today's core)."""
    events, helpers, requests, _ = _load()
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    data["pushes"] = capture(events, helpers, requests)
    GOLDEN.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(data['pushes'])} pushes of the stored events to {GOLDEN}")


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--write"]:
        _write()
    elif sys.argv[1:] == ["--pushes"]:
        _write_pushes()
