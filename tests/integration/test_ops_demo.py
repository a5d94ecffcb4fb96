"""The newcomer's demo against the real service: district loaded, stories played, each
story's fate printed."""

from __future__ import annotations

import asyncio
import sys

from dispatcher.ops.demo_stories import STORIES
from dispatcher.testing.stack import LocalStack, free_port


async def test_demo_plays_the_stories(stack: LocalStack) -> None:
    # Escalation ladders 50x faster, so a story nobody answers widens within seconds.
    fast = stack.env(DISPATCH_PLAN_TIME_SCALE="0.02")
    stack.spawn(
        "worker-1", "worker", "--name", "worker-1", "--web-port", str(free_port()), env=fast
    )
    await stack.start_api()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dispatcher.ops.demo",
        "--api",
        stack.api_url,
        "--helpers-per-community",
        "30",
        "--chatter",
        "4",
        "--timeout",
        "30",
        env=fast,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out_b, err_b = await asyncio.wait_for(proc.communicate(), timeout=240)
    out, err = out_b.decode(), err_b.decode()
    print(out)  # the demo's story, for whoever reads the test log
    assert proc.returncode == 0, out + err
    assert "loading the demo district, 92 helpers in 3 communities" in out
    for story in STORIES:
        assert f"● {story.title}" in out
    pregnant = out.split(f"● {STORIES[0].title}")[1].split("●")[0]
    assert "told to call 120" in pregnant
    assert "accepted:" in pregnant and "outcome: resolved" in pregnant, pregnant
    collapsed = out.split(f"● {STORIES[1].title}")[1].split("●")[0]
    assert "paired" in collapsed and "accepted: zhonghua-pair-0" in collapsed, collapsed
