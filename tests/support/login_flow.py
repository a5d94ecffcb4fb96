"""A phone's in-app browser going through a chat platform's login against the real API and
the local platform fakes (tests/support/platform_fakes.py): the offer links' and the answer
page's login tests share these."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any

import httpx

from dispatcher.testing.stack import LocalStack
from tests.support import platform_fakes as pf

PHONE = "13912345678"  # the requester's phone in tests/support/builders.request


def browser(stack: LocalStack) -> httpx.AsyncClient:
    """A phone's in-app browser: keeps cookies, follows no redirect by itself."""
    return httpx.AsyncClient(base_url=stack.api_url, timeout=15, follow_redirects=False)


async def login(
    phone: httpx.AsyncClient, path: str, app_user: str
) -> tuple[httpx.Response, httpx.URL]:
    """Open the link inside the app as `app_user`: our 302 to the platform, the platform's
    302 back with a code, our callback's answer (and the callback URL, for replays)."""
    first = await phone.get(path)
    assert first.status_code == 302, first.text
    assert PHONE not in first.text and first.headers["referrer-policy"] == "no-referrer"
    async with httpx.AsyncClient(follow_redirects=False) as platform:
        back = await platform.get(first.headers["location"], headers={pf.APP_USER_HEADER: app_user})
    assert back.status_code == 302, back.text
    callback = httpx.URL(back.headers["location"])
    return await phone.get(callback.raw_path.decode()), callback


def cookie_attrs(response: httpx.Response, name: str) -> dict[str, str]:
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            morsel = jar[name]
            return {k: str(v) for k, v in morsel.items() if v} | {"value": morsel.value}
    return {}


async def serve_with_logins(
    stack: LocalStack,
    fake: pf.FakePlatforms,
    endpoint: dict[str, Any],
    communities: dict[str, list[str]],
    worker: str,
) -> None:
    """A worker pushing to `endpoint` and the API with the fakes' logins for `communities`."""
    stack.extra_env["DISPATCH_PUSH_ENDPOINTS"] = json.dumps([endpoint])
    stack.extra_env["DISPATCH_PLATFORM_LOGINS"] = json.dumps(fake.logins(communities))
    stack.start_worker(worker)
    await stack.start_api()
