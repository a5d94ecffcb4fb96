"""The demo's pieces that need no service: its messages classify as its stories say, its
groups are the dev bots' groups, the worker accepts its push endpoints, its phones read the
API's real answer pages and check push signatures, and it has no way around the API."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from dispatcher.api.pages import link_error, page
from dispatcher.classify import classify
from dispatcher.demo import phones as demo_phones
from dispatcher.demo.phones import PAGE_OUTCOMES, page_outcome, persona, push_endpoints
from dispatcher.demo.stories import STORIES, chatter
from dispatcher.groupchat.dev_bots import demo_groups
from dispatcher.ops.demo_district import COMMUNITIES
from dispatcher.push.signing import standard_webhook_signature, webhook_secret_bytes
from dispatcher.settings import REPO_ROOT, Settings

LINES = [*STORIES, *chatter(7, 20)]


@pytest.mark.parametrize("line", LINES, ids=lambda line: line.key)
def test_each_message_classifies_as_its_story_says(line) -> None:  # type: ignore[no-untyped-def]
    c = classify(line.text)
    assert c.is_request == (line.expect_category is not None), c
    assert c.category == line.expect_category, c


def test_the_chatter_has_messages_that_are_not_requests() -> None:
    assert any(line.expect_category is None for line in chatter(7, 8))


def test_every_message_goes_to_a_group_of_the_dev_bots() -> None:
    groups = demo_groups()
    for line in LINES:
        assert line.group_id in groups, line


def test_the_worker_takes_the_phones_endpoints_as_make_run_passes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dispatcher", "demo", "--push-endpoints"],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    ).stdout
    monkeypatch.setenv("DISPATCH_PUSH_ENDPOINTS", out)
    settings = Settings()
    by_name = {e.name: e for e in settings.push_endpoints}
    # The demo district's helpers are reached through "default" (channel webhook:default).
    assert str(by_name["default"].url) == "http://127.0.0.1:8089/phones"
    for community, _ in COMMUNITIES:  # the whistle's group robot, one per community
        assert f"community-{community}" in by_name
    assert json.loads(out) == push_endpoints()


def test_run_sh_points_the_worker_at_the_phones_in_dev_mode_only() -> None:
    run = (REPO_ROOT / "deploy/local/run.sh").read_text()
    assert 'if [ "$DISPATCH_MODE" = dev ] && [ -z "${DISPATCH_PUSH_ENDPOINTS:-}" ]' in run
    assert "-m dispatcher demo --push-endpoints" in run


def test_the_phones_read_the_api_answer_pages() -> None:
    sources = "".join(
        (REPO_ROOT / "dispatcher/api" / f).read_text()
        for f in ("offer_pages.py", "pages.py", "answer_pages.py", "offer_binding.py")
    )
    for title in PAGE_OUTCOMES:  # a renamed page would leave the phones guessing
        assert f'"{title}"' in sources, title
    covered = page("已有邻居接手", "<p>…</p>", tone="warn")
    assert page_outcome(httpx.Response(200, content=bytes(covered.body))) == "covered"
    expired = link_error("expired")
    assert page_outcome(httpx.Response(410, content=bytes(expired.body))) == "expired"
    odd = page("别的页面", "")
    assert page_outcome(httpx.Response(200, content=bytes(odd.body))) == "page 200 '别的页面'"


def test_the_phones_check_push_signatures_as_the_worker_signs_them() -> None:
    key = webhook_secret_bytes(demo_phones.PUSH_SECRET)
    body = b'{"type":"push.offer","data":{}}'
    now = int(time.time())
    good = {
        "webhook-id": "evt-1",
        "webhook-timestamp": str(now),
        "webhook-signature": standard_webhook_signature(
            demo_phones.PUSH_SECRET, "evt-1", now, body
        ),
    }
    assert demo_phones.signature_ok(key, good, body)
    assert not demo_phones.signature_ok(key, good, body + b" ")
    assert not demo_phones.signature_ok(key, {**good, "webhook-id": "evt-2"}, body)
    stale = now - 3600
    old = {
        **good,
        "webhook-timestamp": str(stale),
        "webhook-signature": standard_webhook_signature(
            demo_phones.PUSH_SECRET, "evt-1", stale, body
        ),
    }
    assert not demo_phones.signature_ok(key, old, body)
    for odd in ("²", "--5", "9" * 5000):  # refused, not a crash of the phones' receiver
        assert not demo_phones.signature_ok(key, {**good, "webhook-timestamp": odd}, body)


def test_personas_are_stable_and_the_paired_neighbour_comes() -> None:
    assert persona(7, "zhonghua-012") == persona(7, "zhonghua-012")
    assert persona(7, "zhonghua-pair-0")[0] == "accept"
    drawn = [persona(7, f"zhonghua-{i:03d}") for i in range(400)]
    declines = sum(1 for action, _ in drawn if action == "decline")
    late = sum(1 for action, delay in drawn if action == "accept" and delay >= 90)
    # A quarter decline, a quarter see it late (after the first ring's wait), half come.
    assert 0.18 < declines / 400 < 0.32, declines
    assert 0.18 < late / 400 < 0.32, late


def test_the_demo_has_no_way_around_the_api() -> None:
    """Item 6 of issue 14: no Kafka client anywhere in the demo's import graph."""
    code = (
        "import sys, dispatcher.demo.run\n"
        "print([m for m in sys.modules if m.split('.')[0] in "
        "('aiokafka', 'kafka', 'faust', 'streams')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO_ROOT
    ).stdout
    assert out.strip() == "[]"
