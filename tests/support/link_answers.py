"""A press of a helper's link as the phone sees it, without depending on the machine's speed.

An offer link's POST (accept, decline, a leader's sign-up) sends its command to Kafka, then
waits at most `offer_outcomes.POLL_TIMEOUT_S` for the worker's decision to reach PostgreSQL
(API → Kafka → worker → events → record agent). Within it, the answer is the outcome (200,
or a page of its own status); past it, 202 "已收到您的回复 / 正在确认" and the page refreshes
itself: the link's page (GET) then shows the outcome once recorded. Both are what the
product promises, so a test accepts either and reads the page the phone ends on.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.waiting import eventually

CONFIRMING = "正在确认"  # the 202 page's text, on the press and on the link's page alike


def confirming(answer: httpx.Response) -> bool:
    """The "received, confirming…" page: the worker's decision not recorded yet."""
    if answer.status_code != 202:
        return False
    assert CONFIRMING in answer.text, answer.text
    return True


async def settled(
    client: httpx.AsyncClient, path: str, answer: httpx.Response, *, what: str = "the answer"
) -> httpx.Response:
    """`answer` (a press of the link at `path`) if it is final, else the link's page once it
    no longer says "confirming" (read as the phone's refresh does, with its cookies)."""
    if not confirming(answer):
        return answer

    async def shown() -> list[httpx.Response] | None:
        page = await client.get(path)
        return None if confirming(page) else [page]

    [page] = await eventually(shown, timeout=60, every=0.4, what=f"{what} on {path}")
    return page


async def press(
    client: httpx.AsyncClient, path: str, *, what: str = "the answer", **post: Any
) -> httpx.Response:
    """POST the link at `path` (with `post`'s form data), then `settled`: the final page."""
    return await settled(client, path, await client.post(path, **post), what=what)
