"""`python -m dispatcher config`: the staff `--token` is the bearer wherever it is written
(before or after the command) and never goes in a request body; a group robot's key is
`set-endpoint --robot-token` and goes only in the endpoint's body. (Before: `set-endpoint
--token T` sent T to the endpoint as the WeCom robot key, and `show --token T` was refused.)

A local HTTP server stands in for the staff API and records what the CLI sends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from dispatcher.config import cli

STAFF = "staff-token-s38"
ROBOT = "robot-key-s38"
WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"


class _Capture(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str | None, str]]

    def _answer(self) -> None:
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        self.seen.append((self.command, self.path, self.headers.get("authorization"), body))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"changed": []}')

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[Any]]]:
    monkeypatch.delenv("DISPATCH_CONFIG_TOKEN", raising=False)
    seen: list[Any] = []
    handler = type("Handler", (_Capture,), {"seen": seen})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run(argv: list[str]) -> int:
    return cli.main(argv)


def test_staff_token_after_set_endpoint_is_the_bearer_not_the_robot_key(
    api: tuple[str, list[Any]],
) -> None:
    url, seen = api
    argv = ["--api", url, "set-endpoint", "community-x", "--kind", "wecom", "--url", WECOM]
    assert run([*argv, "--token", STAFF]) == 0
    [(method, path, auth, body)] = seen
    assert (method, path) == ("PUT", "/v1/admin/config/endpoints/community-x")
    assert auth == f"Bearer {STAFF}"
    assert STAFF not in body
    assert "token" not in json.loads(body)


def test_robot_token_goes_in_the_body(api: tuple[str, list[Any]]) -> None:
    url, seen = api
    argv = ["--api", url, "--token", STAFF, "set-endpoint", "community-x", "--kind", "wecom"]
    assert run([*argv, "--url", WECOM, "--robot-token", ROBOT]) == 0
    [(_, _, auth, body)] = seen
    assert auth == f"Bearer {STAFF}"
    assert json.loads(body)["token"] == ROBOT


def test_both_after_the_command(api: tuple[str, list[Any]]) -> None:
    url, seen = api
    argv = ["--api", url, "set-endpoint", "community-x", "--kind", "wecom", "--url", WECOM]
    assert run([*argv, "--robot-token", ROBOT, "--token", STAFF]) == 0
    [(_, _, auth, body)] = seen
    assert auth == f"Bearer {STAFF}"
    assert json.loads(body)["token"] == ROBOT
    assert STAFF not in body


@pytest.mark.parametrize("where", ["before", "after"])
def test_show_takes_the_staff_token_before_or_after(api: tuple[str, list[Any]], where: str) -> None:
    url, seen = api
    if where == "before":
        argv = ["--api", url, "--token", STAFF, "show", "--community", "c1"]
    else:
        argv = ["--api", url, "show", "--community", "c1", "--token", STAFF]
    assert run(argv) == 0
    [(method, path, auth, body)] = seen
    assert (method, path, auth, body) == (
        "GET",
        "/v1/admin/config/communities/c1",
        f"Bearer {STAFF}",
        "",
    )


def test_token_before_the_command_is_kept_when_the_command_has_none(
    api: tuple[str, list[Any]],
) -> None:
    url, seen = api
    assert run(["--api", url, "--token", STAFF, "history", "--limit", "3"]) == 0
    [(_, path, auth, _)] = seen
    assert path == "/v1/admin/config/history?limit=3"
    assert auth == f"Bearer {STAFF}"
