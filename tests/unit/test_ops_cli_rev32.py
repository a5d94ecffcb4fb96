"""Review 32 (ops): a DISPATCH_PG_DSN the tools cannot use is one line and exit 2, never a
traceback nor the password; `report --helpers` needs `--csv`; the text report's hours
heading says what it counts; made-up phones are obviously made up; the demo follows a
request merged into another story's, and its chatter never asks twice in one building."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from typing import Any

import pytest

import dispatcher.demo.run as demo_run
from dispatcher.bench.e2e_city import build_city
from dispatcher.demo.stories import STORIES, ChatLine, chatter
from dispatcher.demo.trace import Board
from dispatcher.ops.district import fake_phone
from dispatcher.ops.reports import MonthReport, render_text
from dispatcher.record.connect import DsnError, connect, mask_secrets
from dispatcher.settings import REPO_ROOT, Settings

PASSWORD = "hunter2-s3cret"
MALFORMED_DSNS = (
    "notadsn",
    f"postgresql://u:{PASSWORD}@127.0.0.1:abc/x",
    f"postgresql://u:{PASSWORD}@127.0.0.1:5432/x?sslmode=bogus",
    f"postgresql://u:{PASSWORD}@[::1/x",
    f"postgresql://u:{PASSWORD}@127.0.0.1:99999/x",
    f"mysql://u:{PASSWORD}@127.0.0.1/x",
    # No "@" before the path: asyncpg reads the password as the port, and says so.
    f"postgresql://u:{PASSWORD}/x@127.0.0.1/x",
)


def _report_cli(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DISPATCH_MODE": "dev", "DISPATCH_PG_DSN": dsn}
    return subprocess.run(
        [sys.executable, "-m", "dispatcher", "report", "--community", "c1", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("dsn", MALFORMED_DSNS)
def test_a_malformed_dsn_is_one_line_and_exit_2_without_the_password(dsn: str) -> None:
    out = _report_cli(dsn, "--month", "2026-11")
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("report: DISPATCH_PG_DSN is not a usable PostgreSQL DSN: ")
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert PASSWORD not in out.stderr and out.stdout == ""


def test_helpers_without_csv_is_refused_before_connecting() -> None:
    unreachable = "postgresql://u:p@127.0.0.1:1/x"  # were it read, this would exit 1
    for extra in ([], ["--json"]):
        out = _report_cli(unreachable, "--month", "2026-11", "--helpers", *extra)
        assert out.returncode == 2, out.stderr
        assert "--helpers needs --csv" in out.stderr


def test_the_password_is_masked_however_the_dsn_breaks() -> None:
    dsn = "postgresql://u:p%40ss%2Fword@h:5432/x?password=other-one"
    text = "bad 'p%40ss%2Fword', 'p@ss/word' and 'other-one'"
    assert mask_secrets(text, dsn) == "bad '***', '***' and '***'"
    assert mask_secrets("port 'pw'", "postgresql://u:pw/x@h/x") == "port '***'"
    assert mask_secrets("no secret here", "postgresql://h/x") == "no secret here"


def test_connect_raises_a_dsn_error_without_its_traceback() -> None:
    with pytest.raises(DsnError) as caught:
        asyncio.run(connect(f"postgresql://u:{PASSWORD}/x@127.0.0.1/x"))
    assert PASSWORD not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_demo_exits_2_on_a_malformed_dsn(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def run(args: Any, settings: Settings) -> int:
        return await demo_run.district_loaded(settings)  # its first PostgreSQL read

    monkeypatch.setattr(demo_run, "get_settings", lambda: Settings(pg_dsn="notadsn"))
    monkeypatch.setattr(demo_run, "run", run)
    assert demo_run.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("demo: DISPATCH_PG_DSN is not a usable PostgreSQL DSN")


def test_the_hours_heading_says_what_counts_as_helped_and_where_hours_come_from() -> None:
    total = {"day": "2026-11", "requests": 0, "answered": 0}
    total |= {k: None for k in ("answered_rate", "ttfa_median_s", "ttfa_p90_s")}
    total |= dict.fromkeys(("resolved", "cancelled", "referred", "expired"), 0)
    total |= {"escalations": 0, "whistles": 0}
    helpers = [{"helper_id": "h1", "assignments": 1, "service_hours": 0.5}]
    text = render_text(MonthReport("c1", "2026-11", [], total, helpers))
    # Since session 40 a request held to its close counts as helped too; hours still only
    # come from "done".
    assert "requests helped (done, or held to the close); hours from done" in text
    assert "resolved requests" not in text  # a done on a cancelled request counts too


# ------------------------------------------------------------------ made-up phones
FAKE = re.compile(r"138000[0-9]{5}")


def test_bench_helpers_get_obviously_fake_phones_unique_in_their_community() -> None:
    # The largest city a bench builds by default (6 x 200), and a bigger one.
    for communities, per in ((6, 200), (3, 5000)):
        city = build_city(communities, per, seed=7)
        by_community: dict[str, set[str]] = {}
        for h in city.helpers:
            assert FAKE.fullmatch(h["phone"]), h["phone"]
            by_community.setdefault(h["place"]["community_id"], set()).add(h["phone"])
        assert all(len(phones) == per for phones in by_community.values())


def test_a_fake_phone_needs_a_number_that_fits() -> None:
    assert fake_phone("0") == "13800000000" and fake_phone("99999") == "13800099999"
    for bad in ("100000", "-1", "²", "a1"):
        with pytest.raises(ValueError):
            fake_phone(bad)


# ------------------------------------------------------------------ the demo's traces
def _line(key: str) -> ChatLine:
    return ChatLine(key, key, "demo-zhonghua-c11-b1", "u", "邻居", "帮忙", "carrying")


def test_a_trace_merged_into_another_storys_request_closes_with_it() -> None:
    board = Board(quiet=True)
    first, second = board.sent(_line("a"), "m-a"), board.sent(_line("b"), "m-b")
    reply = {"is_request": True, "request_id": "req-1", "category": "carrying"}
    board.replied(first, reply)
    board.replied(second, {**reply, "merged": True})
    assert second.merged_into == "a" and board.by_request["req-1"] is first

    class Staff:
        async def get(self, path: str) -> Any:
            assert path == "/v1/requests/req-1"
            return FakeResponse({"status": "resolved", "outcome": "resolved"})

    player = demo_run.Play(None, Staff(), None, board, "run")  # type: ignore[arg-type]
    asyncio.run(player.watch([first, second]))
    assert first.done and second.done and second.outcome == "resolved"
    assert second.summary()["merged_into"] == "a"


class FakeResponse:
    status_code = 200

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def raise_for_status(self) -> None: ...

    def json(self) -> dict[str, Any]:
        return self.body


def test_chatter_never_asks_for_the_same_help_twice_in_one_building() -> None:
    asked = [(s.group_id, s.expect_category) for s in STORIES]
    lines = chatter(7, 40)  # 4 rounds of the 10 texts
    asked += [(c.group_id, c.expect_category) for c in lines if c.expect_category]
    assert len(asked) == len(set(asked))
    assert chatter(7, 40) == lines  # still one district per seed
    with pytest.raises(ValueError, match="more than fit"):
        chatter(7, 1000)
