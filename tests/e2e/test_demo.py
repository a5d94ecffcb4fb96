"""`python -m dispatcher demo` against the real service, configured as `make run` configures
it (dev mode: the dev bots, pushes to the demo's phones): every story goes bot → classifier →
push → an answer through the signed link → the assigned phone presses 我在路上 and 已完成
(with minutes) on its page → resolved by its helpers, and nothing on the way is written
around the API (the recorded causes show it)."""

from __future__ import annotations

import asyncio
import json
import sys

import asyncpg

from dispatcher.demo.phones import push_endpoints
from dispatcher.demo.stories import STORIES
from dispatcher.testing.stack import LocalStack, free_port
from schemas.plans import PLAN_SETS

# The phones' human delays 50x faster (`demo --time-scale`): a story plays in seconds. The
# worker's ladder at its production times (DISPATCH_PLAN_TIME_SCALE, its own setting): an
# offer's answer window scales with the ladder, and the machine's latency does not; with
# both at 0.02 a critical offer's link lived 12 s, and a loaded machine could deliver the
# push or the page after it expired (at 0.01, 6 s, it did: load 24). Now no link expires
# while the demo watches. The stories need no rung's timer: a wave's declines move the
# ladder on at once (the same pushes and answers at ladder scales 0.02, 0.25 and 1).
PHONES_SCALE = "0.02"
LADDER_SCALE = "1"
WATCH_S = 150


def test_no_offer_can_expire_while_the_demo_watches() -> None:
    shortest = min(p.offer_ttl_s for plans in PLAN_SETS.values() for p in plans.values())
    assert shortest * float(LADDER_SCALE) > WATCH_S


async def test_every_story_goes_bot_classifier_push_link(stack: LocalStack) -> None:
    phones_port = free_port()
    # The worker learns the phones' endpoint as under `make run`: DISPATCH_PUSH_ENDPOINTS,
    # from `python -m dispatcher demo --push-endpoints`.
    worker_env = stack.env(
        DISPATCH_PLAN_TIME_SCALE=LADDER_SCALE,
        DISPATCH_PUSH_ENDPOINTS=json.dumps(push_endpoints(phones_port)),
    )
    stack.spawn(
        "worker-1", "worker", "--name", "worker-1", "--web-port", str(free_port()), env=worker_env
    )
    api_env = stack.env()
    del api_env["DISPATCH_BOTS_FILE"]  # no bots file, dev mode: the dev bots, as `make run`
    await stack.wait_ready(stack.spawn("api", "api", env=api_env))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dispatcher",
        "demo",
        "--api",
        stack.api_url,
        "--helpers-per-community",
        "30",
        "--chatter",
        "4",
        "--time-scale",
        PHONES_SCALE,
        "--phones-port",
        str(phones_port),
        "--timeout",
        str(WATCH_S),
        "--json",
        env=stack.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out_b, err_b = await asyncio.wait_for(proc.communicate(), timeout=300)
    out, err = out_b.decode(), err_b.decode()
    print(out)  # the demo's story, for whoever reads the test log
    assert proc.returncode == 0, out + err
    assert "loading the demo district, 92 helpers in 3 communities" in out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["bad_signatures"] == 0
    stories = {s["key"]: s for s in result["stories"]}
    assert set(stories) == {s.key for s in STORIES}
    for key, s in stories.items():
        assert s["is_request"], key
        assert s["category"] == s["expected_category"], s
        assert s["offers_pushed"] >= 1, s
        assert s["accepted_via_link"], s
        assert s["first_accept_s"] is not None and s["first_push_s"] is not None, s
        assert s["first_done_s"] is not None and s["outcome"] == "resolved", s
        assert {d["page"] for d in s["done_pressed"]} == {"ok"}, s
        assert f"● {STORIES[[x.key for x in STORIES].index(key)].title}" in out
    assert stories["pregnant-8pm"]["emergency_number"] == "120"
    # Not every chat line is a request: the classifier said so, and nothing was sent.
    assert any(not c["is_request"] and c["request_id"] is None for c in result["chatter"])

    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        for key, s in stories.items():
            rid = s["request_id"]
            # In through the dev bot's signed message, not a staff request.
            assert (
                await conn.fetchval("SELECT bot_id FROM api_intake WHERE request_id = $1", rid)
                == "dev-bot"
            ), key
            uses = await conn.fetch(
                "SELECT command_id, action, helper_id, outcome FROM api_link_uses "
                "WHERE request_id = $1",
                rid,
            )
            by_command = {u["command_id"]: u for u in uses}
            answered = {(a["helper"], a["action"]) for a in s["link_answers"]}
            assert {(u["helper_id"], u["action"]) for u in uses} <= answered, key
            events = await conn.fetch(
                "SELECT type, caused_by, body FROM event_log WHERE request_id = $1", rid
            )
            assigned = [e for e in events if e["type"] == "helper_assigned"]
            declined = [e for e in events if e["type"] == "offer_declined"]
            assert assigned, key
            # Every accept and decline the worker saw came from a link the phone pressed.
            for e in assigned:
                assert by_command[e["caused_by"]]["action"] == "accept", (key, e)
            for e in declined:
                assert by_command[e["caused_by"]]["action"] == "decline", (key, e)
            resolved = [json.loads(e["body"]) for e in events if e["type"] == "request_resolved"]
            assert len(resolved) == 1 and resolved[0]["by"] == "helper", key
            # Every helper's "done" is the phone's, with the minutes it gave on the page.
            done = {
                json.loads(e["body"])["helper_id"]: json.loads(e["body"])
                for e in events
                if e["type"] == "assignment_completed"
            }
            pressed = {d["helper"]: d["minutes"] for d in s["done_pressed"]}
            assert {h: (d["minutes"], d["minutes_given"]) for h, d in done.items()} == {
                h: (m, True) for h, m in pressed.items()
            }, key
    finally:
        await conn.close()
