"""Trust the simulator: a small scenario run by the simulator, then replayed on the real
stack (bot → API → Kafka → worker → PostgreSQL) with simulated phones answering by the
simulator's own draws, in the simulator's order. Every request must go through the same
events (type and helper) in the same order on both.

Timing cannot change a decision here: answers come seconds after offers while the
normal plan's first rung waits 10 minutes, so no deadline fires on either side (checked
on the simulator's trace), and the phones send each answer only once the previous
command's events are recorded, as the simulator applied them. Only the helpers' local day
matters (today's load ranks them): the simulated timeline (~5 min) and the real replay are
kept on the same local day (`clear_of_midnight`) - a CI run at 23:58 China time once had
the simulator's third request on the next day and the real one still on this one."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import httpx
import pytest

from dispatcher.api.models import HelpRequestIn
from dispatcher.api.requests import spec_from
from dispatcher.simulate.behaviour import Behaviour
from dispatcher.simulate.draws import Draws
from dispatcher.simulate.engine import Simulation
from dispatcher.simulate.world import Arrival
from dispatcher.testing.stack import LocalStack
from schemas.commands import AcceptOffer, DeclineOffer, ResolveRequest
from schemas.helpers import CHINA_UTC_OFFSET_MINUTES, HelperProfile
from schemas.plans import DEFAULT_PLANS
from schemas.vocab import Party, Urgency
from tests.support import builders
from tests.support.bot import BotClient
from tests.support.kafka import CommandProducer
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "simtrust"
SEED = 11
ANSWER_COMMANDS = {"accept_offer", "decline_offer"}


def roster() -> list[dict[str, Any]]:
    """Errand runners and carriers over two compounds and four buildings."""
    out = []
    for i in range(10):
        skills = ["errands"] if i % 2 == 0 else ["carrying", "errands"]
        body = builders.helper(f"st-{i}", COMMUNITY, skills)
        body["place"] = builders.place(
            COMMUNITY, compound=f"c{i % 2 + 1}", building=f"b{i % 4 + 1}", household_id=f"h-st-{i}"
        )
        out.append(body)
    return out


def requests() -> list[dict[str, Any]]:
    kinds = [("errand", ["errands"], 1), ("carrying", ["carrying"], 2), ("errand", ["errands"], 1)]
    return [
        builders.request(
            COMMUNITY,
            category=category,
            urgency="normal",
            skills=skills,
            helpers_needed=n,
            place=builders.place(COMMUNITY, compound="c1", building=f"b{k + 1}", unit="1"),
        )
        for k, (category, skills, n) in enumerate(kinds)
    ]


def simulate(start: datetime) -> Simulation:
    behaviour = Behaviour().with_overrides(
        {
            "answer_base": {u.value: 0.9 for u in Urgency},
            "accept_given_answer": {u.value: 0.4 for u in Urgency},
            "median_delay_s": {u.value: 5.0 for u in Urgency},
            "service_median_s": {u.value: 20.0 for u in Urgency},
            "helper_propensity_sigma": 0.0,
            "night_answer": 1.0,
            "night_delay": 1.0,
            "work_answer": 1.0,
            "withdraw_share": 0.0,
            "no_show_share": 0.0,
        }
    )
    arrivals = [
        Arrival(
            start + timedelta(seconds=120 * k),
            spec_from(HelpRequestIn.model_validate(body), f"sim-{k}", None),
        )
        for k, body in enumerate(requests())
    ]
    return Simulation(
        policy="plans",
        plans=DEFAULT_PLANS,
        helpers=[HelperProfile.model_validate(h) for h in roster()],
        arrivals=arrivals,
        behaviour=behaviour,
        draws=Draws(SEED),
        start=start,
        days=1,
        trace=True,
    )


LOCAL = timezone(timedelta(minutes=CHINA_UTC_OFFSET_MINUTES))  # the roster's helpers' clock
REPLAY_S = 180.0  # a generous bound on the real replay's length


def clear_of_midnight(now: datetime, span_s: float) -> tuple[float, datetime]:
    """(seconds to wait first, the simulation's start) so that the simulated timeline of
    `span_s` and a real replay from now on lie in one local day: a replay that could
    cross midnight waits for it; a simulated timeline that would is started earlier."""
    local = now.astimezone(LOCAL)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    left = (midnight - local).total_seconds()
    if left < REPLAY_S:
        return left + 1, now + timedelta(seconds=left + 1)
    return 0.0, min(now, midnight.astimezone(UTC) - timedelta(seconds=span_s + 1))


@pytest.fixture(scope="module")
async def running(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    stack.bot_communities.add(COMMUNITY)
    await stack.start_api()
    yield stack


async def test_simulator_and_real_stack_make_the_same_decisions(running: LocalStack) -> None:
    stack = running
    span = max(line.t for line in simulate(datetime.now(UTC)).run().trace)
    wait, start = clear_of_midnight(datetime.now(UTC), span)
    await asyncio.sleep(wait)
    run = simulate(start).run()
    commands = [line.command for line in run.trace]
    # The scenario exercises accepts, declines (with replacements), a two-slot request and
    # resolutions, and nothing that depends on how long things take.
    assert set(commands) == {"submit_request", "accept_offer", "decline_offer", "resolve_request"}
    assert commands.count("submit_request") == 3
    assert any("offer_declined" in {t for t, _ in line.events} for line in run.trace)
    expected: dict[str, list[tuple[str, str]]] = {}
    for line in run.trace:
        expected.setdefault(line.request_id, []).extend(line.events)

    real_id: dict[str, str] = {}
    conn = await asyncpg.connect(stack.pg_dsn)
    try:

        async def events_of(rid: str) -> list[tuple[str, str]]:
            rows = await conn.fetch(
                "SELECT type, coalesce(body->>'helper_id', '') AS h FROM event_log"
                " WHERE request_id = $1 ORDER BY seq",
                rid,
            )
            return [(r["type"], r["h"]) for r in rows]

        async def recorded(sim_rid: str, count: int) -> list[tuple[str, str]] | None:
            got = await events_of(real_id[sim_rid])
            return got if len(got) >= count else None

        seen: dict[str, int] = {}
        async with (
            httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client,
            CommandProducer(stack.kafka_bootstrap, stack.env()["DISPATCH_COMMANDS_TOPIC"]) as p,
        ):
            for h in roster():
                r = await client.put(f"/v1/admin/helpers/{h['helper_id']}", json=h, headers=STAFF)
                assert r.status_code == 202, r.text
            bodies = dict(zip([f"sim-{k}" for k in range(3)], requests(), strict=True))
            for line in run.trace:  # the simulator's order, one command at a time
                sim_rid = line.request_id
                if line.command == "submit_request":
                    r = await BotClient(client).post("/v1/requests", bodies[sim_rid])
                    assert r.status_code == 202, r.text
                    real_id[sim_rid] = r.json()["request_id"]
                else:
                    rid = real_id[sim_rid]
                    body: Any
                    if line.command in ANSWER_COMMANDS:
                        helper = next(h for _, h in line.events if h)  # who answered
                        offer = await conn.fetchval(
                            "SELECT offer_id FROM offers WHERE request_id = $1 AND helper_id = $2",
                            rid,
                            helper,
                        )
                        assert offer is not None, (sim_rid, helper, await events_of(rid))
                        kind = AcceptOffer if line.command == "accept_offer" else DeclineOffer
                        body = kind(request_id=rid, offer_id=offer, helper_id=helper)
                    else:
                        body = ResolveRequest(request_id=rid, by=Party.REQUESTER)
                    await p.send(body, COMMUNITY)
                seen[sim_rid] = seen.get(sim_rid, 0) + len(line.events)
                await eventually(
                    lambda s=sim_rid, n=seen[sim_rid]: recorded(s, n),
                    what=f"{line.command} for {sim_rid} recorded",
                )
            for sim_rid, rid in real_id.items():
                assert await events_of(rid) == expected[sim_rid], sim_rid
    finally:
        await conn.close()

    # The recorded history now feeds `simulate --from-db`: every helper who answered is
    # fitted (none of them is in the demo roster, which the command says).
    answered = {
        next(h for _, h in line.events if h)  # the first event names who answered
        for line in run.trace
        if line.command in ANSWER_COMMANDS
    }
    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    fitted = subprocess.run(
        [sys.executable, "-m", "dispatcher", "simulate", "--from-db", "--community", COMMUNITY,
         "--since", since, "--min-offers", "1", "--days", "1", "--no-report", "--json"],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr
    assert f"fitted {len(answered)} helpers from PostgreSQL, 0 of them" in fitted.stderr


def test_the_simulated_day_is_the_replays() -> None:
    """`clear_of_midnight` near China's midnight (16:00 UTC) and far from it."""
    noon = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)  # 12:00 local
    assert clear_of_midnight(noon, 300) == (0.0, noon)
    late = datetime(2026, 12, 6, 15, 58, tzinfo=UTC)  # 23:58 local: 120 s left
    assert clear_of_midnight(late, 300) == (121.0, late + timedelta(seconds=121))
    soon = datetime(2026, 12, 6, 15, 55, tzinfo=UTC)  # 23:55 local: the simulation earlier
    wait, start = clear_of_midnight(soon, 300)
    assert wait == 0.0 and start == datetime(2026, 12, 6, 15, 54, 59, tzinfo=UTC)
