"""`python -m dispatcher bench notify [--compare REV]`: the notify agent's CPU per offer.

The parent decides `--requests` critical requests on a synthetic community (the real core;
helpers sealed as the roster import seals them) and hands the events, as Kafka carries
them, to a child process that runs the real notify agent (`streams.notify.NotifyAgent`,
built as `for_runtime` builds it: real offer links, real Deliverer, a Standard Webhooks
endpoint) against a local receiver in the parent. The child times, per round, its own
CPU (`time.process_time`: it has one thread) from the first event handed to the agent until
every event is acknowledged (every offer delivered), and reports µs per delivered offer.
Waves come at `--rate` requests per second, each wave's events back to back, as a Kafka
fetch hands them over.

With `--compare REV`, REV's `dispatcher`, `schemas` and `streams` run in a second child
beside this checkout's; both first push the same events with a fixed clock and a counting
nonce source, one POST per offer and then batched, and the receiver compares what arrived
(`same_posts`: every POST's headers and bytes; `same_batched_entries`: every batch entry),
then the children take turns round by round (alternating which goes first). Prints numbers;
asserts none.

This file is also the child: it is loaded by path with a tree's packages first on the path,
so it imports only the standard library at the top.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ENDPOINT = "phones"
SECRET = "whsec_" + "YmVuY2gtbm90aWZ5LXNlY3JldC0xMjM0NTY3ODkwYWI="
KEYS = {
    "link_secret": "bench-link-secret-" + "l" * 32,
    "contact_key": "bench-contact-key-" + "c" * 32,
    "helper_id_key": "bench-helper-id-key-" + "h" * 32,
    "public_base_url": "https://help.example",
}
FIXED_NOW = 1_900_000_000.0  # the digest runs' wall clock (signature timestamps)


# ----------------------------------------------------------------------------- child
class _Clock:
    def __init__(self, fixed: float | None) -> None:
        self.fixed = fixed

    def now(self) -> Any:
        from datetime import UTC, datetime

        from dispatcher.clock import utcnow

        return utcnow() if self.fixed is None else datetime.fromtimestamp(self.fixed, UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class _Record:
    """What the agent reads of a Faust event: its value, and `ack()`."""

    def __init__(self, value: bytes, done: list[int]) -> None:
        self.value = value
        self._done = done

    def ack(self) -> None:
        self._done[0] += 1


def _counting_nonces() -> None:
    """Digest runs: every random byte the links take comes from a counter, the same
    sequence in both trees, so the same events give byte-identical pushes."""
    counter = iter(range(1 << 62))

    def urandom(n: int) -> bytes:
        return hashlib.sha256(str(next(counter)).encode()).digest()[:n]

    os.urandom = urandom


class _Agent:
    def __init__(self, url: str, batch_max: int, concurrency: int, fixed: float | None) -> None:
        from types import SimpleNamespace

        from dispatcher.settings import Settings
        from schemas.records import HelperState
        from streams.dead_letter import DeadLetterSink
        from streams.notify import NotifyAgent
        from streams.runtime import Stats

        self.helpers: dict[str, HelperState] = {}
        endpoint = {
            "name": ENDPOINT,
            "kind": "webhook",
            "url": url,
            "secret": SECRET,
            "concurrency": concurrency,
            "batch_max": batch_max,
            "batch_window_seconds": 0.005,
        }
        settings = Settings.model_validate(
            {**KEYS, "push_endpoints": [endpoint], "push_default_endpoint": ENDPOINT}
        )
        self.commands: list[Any] = []

        async def send_command(command: Any) -> None:
            self.commands.append(command)

        rt = SimpleNamespace(
            settings=settings,
            state=SimpleNamespace(core=SimpleNamespace(helpers=self.helpers, requests={})),
            send_command=send_command,
            clock=_Clock(fixed),
            stats=Stats(),
            owns=None,  # one process owns every partition: no rebuild to wait out
        )
        self.agent = NotifyAgent.for_runtime(rt, DeadLetterSink(None, rt.stats, rt.clock))  # type: ignore[arg-type]
        self.done = [0]

    async def run(self, waves: list[list[bytes]], rate: float) -> dict[str, Any]:
        records = [[_Record(v, self.done) for v in wave] for wave in waves]  # untimed
        expected = self.done[0] + sum(len(w) for w in records)
        loop = asyncio.get_running_loop()
        c0, w0 = time.process_time(), loop.time()
        for i, wave in enumerate(records):
            await asyncio.sleep(max(0.0, w0 + i / rate - loop.time()))
            for record in wave:
                await self.agent.handle(record)
        while self.done[0] < expected:
            await asyncio.sleep(0.001)
        return {
            "cpu_s": time.process_time() - c0,
            "wall_s": loop.time() - w0,
            "connections": self.connections(),
        }

    def connections(self) -> int | None:
        """Connections the agent's client keeps (keep-alive: a few, however many POSTs)."""
        deliverer = self.agent.notifier._deliverer
        transport = getattr(getattr(deliverer, "_client", None), "_transport", None)
        counted = getattr(transport, "connections", None)  # PlainHttpTransport (plain http)
        if callable(counted):
            return int(counted())
        found = getattr(getattr(transport, "_pool", None), "connections", None)  # before it
        return None if found is None else len(found)


def serve() -> None:
    """Child: one JSON request per line on stdin, one JSON answer per line on stdout."""
    from schemas.records import HelperState

    loop = asyncio.new_event_loop()
    agents: dict[str, _Agent] = {}
    helpers: dict[str, HelperState] = {}
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["op"] == "helpers":
            helpers.update(
                {k: HelperState.model_validate_json(v) for k, v in msg["helpers"].items()}
            )
            out: Any = len(helpers)
        elif msg["op"] == "agent":
            if msg["fixed_clock"]:
                _counting_nonces()
            fixed = FIXED_NOW if msg["fixed_clock"] else None
            agent = _Agent(msg["url"], msg["batch_max"], msg["concurrency"], fixed)
            agent.helpers.update(helpers)
            agents[msg["name"]] = agent
            out = msg["name"]
        else:  # run
            waves = [[v.encode() for v in wave] for wave in msg["waves"]]
            out = loop.run_until_complete(agents[msg["name"]].run(waves, msg["rate"]))
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    for agent in agents.values():  # the lanes' tasks end before the loop does
        loop.run_until_complete(agent.agent.notifier.close())
    loop.close()


# ---------------------------------------------------------------------------- parent
def build_waves(
    requests: int, helpers: int, seed: int
) -> tuple[list[list[str]], dict[str, str], list[int]]:
    """Each request's events as Kafka carries them, the sealed helpers they name, and each
    request's count of offers (one an `offer_sent`, each of an `offers_sent`)."""
    import random

    from dispatcher.bench.community import build_state, helper_phone
    from dispatcher.bench.match import NOW, _command, _spec
    from dispatcher.core import decide
    from dispatcher.sealing import KeyRing, seal_profile
    from schemas.events import OfferSent, OffersSent, sent_offers
    from schemas.records import HelperState

    ring = KeyRing(KEYS["contact_key"], [], KEYS["helper_id_key"])
    state = build_state(helpers, seed, progress=False)
    rng = random.Random(seed + 1)
    waves: list[list[str]] = []
    named: dict[str, str] = {}
    offers: list[int] = []
    for i in range(requests):
        events = decide(state, _command(_spec(i, rng.randrange(helpers))), NOW).events
        waves.append([e.model_dump_json() for e in events])
        offered = [
            one.helper_id
            for e in events
            if isinstance(e.body, OfferSent | OffersSent)
            for one in sent_offers(e.body)
        ]
        offers.append(len(offered))
        for hid in offered:
            if hid not in named:
                base = state.helpers[hid]
                profile = base.profile.model_copy(
                    update={
                        "name": f"邻居{hid}",
                        "phone": helper_phone(int(hid.removeprefix("h"))),  # made up, one each
                        "platform_user_id": f"wx-{hid}" if len(named) % 2 else None,
                    }
                )
                sealed = HelperState(profile=seal_profile(ring, profile), load=base.load)
                named[hid] = sealed.model_dump_json()
    return waves, named, offers


def _posts(received: list[Any]) -> list[tuple[str, str, str, bytes]]:
    keep = ("webhook-id", "webhook-timestamp", "webhook-signature")
    rows = [(r.path, *(r.headers.get(h, "") for h in keep), r.body) for r in received]
    return sorted(row[1:] for row in rows)


def _entries(received: list[Any]) -> list[str]:
    out = []
    for r in received:
        data = json.loads(r.body)["data"]
        for entry in data.get("deliveries", [data]):
            out.append(json.dumps(entry, ensure_ascii=False, sort_keys=True))
    return sorted(out)


def run(
    compare: str | None,
    requests: int,
    rounds: int,
    rate: float,
    batch_max: int,
    concurrency: int,
    helpers: int,
    seed: int,
) -> dict[str, Any]:
    import tempfile

    from dispatcher.bench.match_compare import _ROOT, Child, extract, resolve
    from dispatcher.testing.push_receiver import ThreadedPushReceiver

    print(f"deciding {requests * rounds} requests…", file=sys.stderr, flush=True)
    waves, named, offers = build_waves(requests * (rounds + 1), helpers, seed)
    digest_waves, waves = waves[:requests], waves[requests:]
    offers = offers[requests:]
    here = Path(__file__).resolve()
    load_before = os.getloadavg()
    report: dict[str, Any] = {"requests_per_round": requests, "rounds": rounds, "rate": rate}
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp, ThreadedPushReceiver() as rx:
        sides = {"current": _ROOT}
        base_rev = resolve(compare) if compare else None
        if base_rev:
            tree = extract(base_rev, Path(tmp), ("dispatcher", "schemas", "streams"))
            sides = {"baseline": tree, **sides}
        children = {name: Child(name, root, here) for name, root in sides.items()}
        try:
            for child in children.values():
                child.ask(op="helpers", helpers=named)
            if base_rev:
                report |= _digests(children, rx, digest_waves, rate, concurrency, batch_max)
            cpu: dict[str, list[float]] = {name: [] for name in children}
            for name, child in children.items():
                child.ask(
                    op="agent",
                    name="timed",
                    url=rx.url(f"/{name}"),
                    batch_max=batch_max,
                    concurrency=concurrency,
                    fixed_clock=False,
                )
                child.ask(op="run", name="timed", waves=digest_waves[:2], rate=rate)  # warm-up
            order = list(children)
            posts: dict[str, int] = dict.fromkeys(children, 0)
            connections: dict[str, Any] = {}
            for k in range(rounds):
                print(f"round {k + 1}/{rounds}…", file=sys.stderr, flush=True)
                chunk = waves[k * requests : (k + 1) * requests]
                chunk_offers = sum(offers[k * requests : (k + 1) * requests])
                for name in order if k % 2 == 0 else order[::-1]:
                    before = len(rx.for_path(f"/{name}"))
                    out = children[name].ask(op="run", name="timed", waves=chunk, rate=rate)
                    cpu[name].append(out["cpu_s"] * 1e6 / chunk_offers)
                    posts[name] += len(rx.for_path(f"/{name}")) - before
                    connections[name] = out["connections"]
        finally:
            for child in children.values():
                child.close()
    report |= {
        "offers_per_round": sum(offers[:requests]),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    for name, values in cpu.items():
        ordered = sorted(values)
        report[name] = {
            "cpu_us_per_offer_median": round(ordered[len(ordered) // 2], 1),
            "cpu_us_per_offer_min": round(ordered[0], 1),
            "cpu_us_per_offer_rounds": [round(v, 1) for v in values],
            "posts": posts[name],
            "client_connections_at_end": connections[name],
        }
    if base_rev:
        report["baseline_rev"] = base_rev[:12]
    return report


def _digests(
    children: dict[str, Any],
    rx: Any,
    waves: list[list[str]],
    rate: float,
    concurrency: int,
    batch_max: int,
) -> dict[str, Any]:
    """The same events through both trees with a fixed clock and counting nonces: one POST
    per offer (every POST compared byte for byte), then batched (every entry compared)."""
    out: dict[str, Any] = {}
    for label, size in (("posts", 1), ("batched_entries", max(2, batch_max))):
        seen = {}
        for name, child in children.items():
            path = f"/digest-{label}-{name}"
            child.ask(
                op="agent",
                name=path,
                url=rx.url(path),
                batch_max=size,
                concurrency=concurrency,
                fixed_clock=True,
            )
            child.ask(op="run", name=path, waves=waves, rate=rate)
            got = rx.for_path(path)
            seen[name] = _posts(got) if size == 1 else _entries(got)
        out[f"same_{label}"] = seen["baseline"] == seen["current"]
        out[f"{label}_compared"] = len(seen["current"])
    return out


def main(args: Any) -> int:
    report = run(
        args.compare,
        args.requests,
        args.rounds,
        args.rate,
        args.batch_max,
        args.concurrency,
        args.helpers,
        args.seed,
    )
    print(json.dumps(report) if args.json else json.dumps(report, indent=2, ensure_ascii=False))
    return 0


def add_arguments(parser: Any) -> None:
    parser.add_argument("--compare", metavar="REV", help="git revision to run beside")
    parser.add_argument("--requests", type=int, default=20, help="requests (waves) a round")
    parser.add_argument("--rounds", type=int, default=6, help="rounds (trees alternate)")
    parser.add_argument("--rate", type=float, default=50.0, help="waves per second")
    parser.add_argument("--batch-max", type=int, default=32, help="webhook batch_max")
    parser.add_argument("--concurrency", type=int, default=16, help="endpoint concurrency")
    parser.add_argument("--helpers", type=int, default=2000, help="community size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="one line of JSON")
