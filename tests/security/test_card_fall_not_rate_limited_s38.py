"""A contact card's 摔倒了 is never refused because the card was pressed for something else
(session 38, audit_groups finding 2). The card's press allowance (burst 3) was charged per
card, before the press was read: three errand presses, all merged into one request, used it
up, and the household's fall that followed was refused with 429 and raw English JSON
(`{"detail": {"reason": "rate_limited", ...}}`) on the elder's phone.

Now presses are counted per kind of need (a leaked link still cannot flood the neighbours:
the fourth errand is refused), a press where life may be at risk (a kind where it is:
摔倒, 身体不适; or words naming an emergency) draws on the card's emergency allowance only,
as a bot's life-threatening request does, and beyond that too the household is told to
call 120 now; every refusal of the card's form is a page in Chinese saying what to do.
Real API, worker, PostgreSQL and Kafka.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support.households import card_paths, upload_households

STAFF = {"Authorization": "Bearer dev-staff-token"}
COMMUNITY = "comm-card-fall"
# One household per test: a card's press buckets live as long as the module's API.
HOUSEHOLDS = (
    "小区编号,小区,网格,楼栋,单元,户号,户主,电话,标签,年龄\n"
    "c7,图强七区,g1,1号楼,1,101,陈阿婆,13912345670,独居,86\n"
    "c7,图强七区,g1,2号楼,1,101,周阿公,13912345671,独居,90\n"
    "c7,图强七区,g1,5号楼,1,101,吴阿婆,13912345672,高龄,87\n"
)
ERRANDS_THEN_FALL, FLOODED_FALLS, WORDS = "hh-c7-b1-1-101", "hh-c7-b2-1-101", "hh-c7-b5-1-101"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    await stack.start_api()
    yield stack


@pytest.fixture(scope="module")
async def cards(api: LocalStack) -> dict[str, str]:
    return card_paths(await upload_households(api, COMMUNITY, HOUSEHOLDS))


async def until_refused(
    press: Callable[[], Awaitable[httpx.Response]], most: int = 10
) -> httpx.Response:
    """Press until refused (429): taken presses are 202; fail if `most` are all taken."""
    for _ in range(most):
        answer = await press()
        if answer.status_code == 429:
            return answer
        assert answer.status_code == 202, answer.text
    pytest.fail(f"{most} presses and none refused")


def html(page: httpx.Response) -> str:
    assert page.headers["content-type"].startswith("text/html"), (page.status_code, page.text)
    return page.text[page.text.find("<main") : page.text.find("</main>")]


async def test_a_fall_after_three_errand_presses_is_taken_and_a_fourth_errand_is_refused_in_chinese(
    client: httpx.AsyncClient, db: asyncpg.Connection, cards: dict[str, str]
) -> None:
    card = cards[ERRANDS_THEN_FALL]
    for _ in range(3):  # the same errand, pressed again: merged into one request
        errand = await client.post(card + "?category=errand")
        assert errand.status_code == 202, errand.text
    fall = await client.post(card + "?category=fall")
    assert fall.status_code == 202, fall.text
    page = html(fall)
    assert 'href="tel:120"' in page and "请立即拨打120" in page, page
    assert "已收到求助" in page, page

    # The flood guard stays: the errand's allowance is spent, the next errand is refused,
    # and the form says so in Chinese (with 120 for an emergency), never raw JSON.
    # (Until refused: a press slower than the 10 s refill would be taken, not a failure.)
    refused = await until_refused(lambda: client.post(card + "?category=errand"))
    page = html(refused)
    assert "没有再发出" in page and "120" in page and "rate limit" not in page, page
    assert int(refused.headers["retry-after"]) >= 1
    as_json = await until_refused(lambda: client.post(card, json={"category": "errand"}))
    assert as_json.json()["detail"]["reason"] == "rate_limited"  # a JSON caller: as before

    taken = await db.fetch(
        "SELECT merge_key, reports FROM api_intake WHERE community_id = $1 AND bot_id = 'card'",
        COMMUNITY,
    )
    assert sorted(r["reports"] for r in taken) == [1, 3], taken  # the fall, the errand x3


async def test_words_naming_an_emergency_are_taken_after_the_errands_allowance_is_spent(
    client: httpx.AsyncClient, cards: dict[str, str]
) -> None:
    card = cards[WORDS]
    await until_refused(lambda: client.post(card, json={"category": "errand"}))
    fire = await client.post(card, json={"category": "errand", "text": "家里着火了，快来人"})
    assert fire.status_code == 202, fire.text
    assert fire.json()["advise_emergency_call"] is True and fire.json()["emergency_number"] == "119"


async def test_falls_beyond_the_emergency_allowance_are_told_to_call_120_now(
    client: httpx.AsyncClient, cards: dict[str, str]
) -> None:
    # A leaked link pressing 摔倒了 over and over: far more than the ordinary burst (3) is
    # taken, then the emergency allowance (burst 10, 30 a minute) ends it, and the page tells
    # the household to call 120 now, saying nobody was told. (The allowance refills one
    # press in 2 s: 40 presses end in a refusal unless each took over 1.5 s.)
    card = cards[FLOODED_FALLS]
    answers = []
    for _ in range(40):
        answers.append(await client.post(card + "?category=fall"))
        if answers[-1].status_code != 202:
            break
    statuses = [a.status_code for a in answers]
    assert statuses[:10] == [202] * 10 and statuses[-1] == 429, statuses
    page = html(answers[-1])
    assert 'href="tel:120"' in page and "请立即拨打120" in page, page
    assert "暂未能通知邻居" in page and "邻居们正在赶来" not in page, page


async def test_an_unknown_card_pressed_on_its_page_is_a_chinese_page_and_sends_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, cards: dict[str, str]
) -> None:
    before = await db.fetchval("SELECT count(*) FROM api_intake")
    unknown = await client.post("/card/" + "A" * 24 + "?category=fall")
    assert unknown.status_code == 404, unknown.text
    page = html(unknown)
    assert "无法识别" in page and 'href="tel:120"' in page, page
    as_json = await client.post("/card/" + "A" * 24, json={"category": "fall"})
    assert as_json.status_code == 404 and as_json.json()["detail"]["reason"] == "unknown_card"
    assert await db.fetchval("SELECT count(*) FROM api_intake") == before
