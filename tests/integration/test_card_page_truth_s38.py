"""What an elder pressing the printed contact card's button (the form, not JSON) is told
(session 38, audit_groups finding 1): the page said "已通知您的结对邻居（…），请保持电话畅通。"
whatever the intake answered, so a household without any 结对 helper, a press held for the
community's quiet hours ("将于HH:MM通知") and a press merged into an earlier one were all
told their paired neighbours had been notified: an 88-year-old believed help was coming.
Now the page says the answer's own reply, names 结对 only where the household has paired
helpers, and a press of a kind where life is at risk (摔倒了, 身体不舒服) shows the call-120
advice first with a button to call. Real API, worker, PostgreSQL and Kafka.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from dispatcher.testing.stack import LocalStack
from tests.support.config_cli import config_cli as cli
from tests.support.households import card_paths, quiet_now, upload_households
from tests.support.waiting import eventually

STAFF = {"Authorization": "Bearer dev-staff-token"}
CSV = "text/csv; charset=utf-8"
COMMUNITY = "comm-card-truth"
ROSTER = (
    "编号,姓名,电话,小区编号,小区,网格,楼栋,技能,党员,职务,团队\n"
    "paired-1,林阿姨,13800000201,c1,图强小区,g1,9号楼,帮忙,否,志愿者,\n"
    "near-1,黄先生,13800000202,c1,图强小区,g1,3号楼,急救,否,志愿者,\n"
)
# 王阿婆 lives alone at 88 with nobody paired; 李阿公 has 林阿姨 as his 结对 helper.
HOUSEHOLDS = (
    "小区编号,小区,网格,楼栋,单元,户号,户主,电话,标签,年龄,结对\n"
    "c1,图强小区,g1,3号楼,2,502,王阿婆,13912345678,独居,88,\n"
    "c1,图强小区,g1,4号楼,1,101,李阿公,13912345679,,70,paired-1\n"
)
UNPAIRED, PAIRED = "hh-c1-b3-2-502", "hh-c1-b4-1-101"


@pytest.fixture(scope="module")
async def api(stack: LocalStack) -> AsyncIterator[LocalStack]:
    stack.start_worker()
    await stack.start_api()
    cli(stack, "set-community", COMMUNITY, "--display-name", "联络卡社区")
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as c:
        r = await c.post(
            f"/v1/admin/communities/{COMMUNITY}/roster",
            content=ROSTER.encode(),
            headers={**STAFF, "content-type": CSV},
        )
        assert r.status_code == 200, r.text
    yield stack


@pytest.fixture(scope="module")
async def cards(api: LocalStack) -> dict[str, str]:
    doc = await upload_households(api, COMMUNITY, HOUSEHOLDS)
    assert doc["pairings"] == 1, doc
    return card_paths(doc)


def said(page: httpx.Response) -> str:
    """The page's words (its <main>), for the assertion messages."""
    return page.text[page.text.find("<main") : page.text.find("</main>")]


async def test_the_card_page_names_paired_neighbours_only_where_the_household_has_some(
    client: httpx.AsyncClient, cards: dict[str, str]
) -> None:
    unpaired = await client.get(cards[UNPAIRED])
    paired = await client.get(cards[PAIRED])
    assert unpaired.status_code == paired.status_code == 200
    assert "结对" not in said(unpaired), said(unpaired)
    assert "结对邻居" in said(paired), said(paired)


async def test_a_fall_pressed_on_the_card_says_what_the_intake_answered_and_call_120_first(
    client: httpx.AsyncClient, db: asyncpg.Connection, cards: dict[str, str]
) -> None:
    # The unpaired household's 摔倒了 (an urgent fall: never held): the answer's reply
    # ("正在通知附近…"), never "已通知您的结对邻居"; the call-120 advice with a button first.
    fall = await client.post(cards[UNPAIRED] + "?category=fall")
    assert fall.status_code == 202 and fall.headers["content-type"].startswith("text/html")
    text = said(fall)
    assert "结对" not in text and "已通知" not in text, text
    assert "已收到求助，正在通知" in text, text
    assert 'href="tel:120"' in text and "请立即拨打120" in text, text
    assert text.index("tel:120") < text.index("正在通知"), text  # the call comes first

    # The paired household's 身体不舒服: its 结对 helper is asked first, and the page says so.
    ill = await client.post(cards[PAIRED] + "?category=medical")
    assert ill.status_code == 202, ill.text
    text = said(ill)
    assert "已收到求助，正在通知" in text and "您的结对邻居会最先收到通知" in text, text
    assert 'href="tel:120"' in text, text

    async def recorded() -> int | None:
        n = await db.fetchval(
            "SELECT count(*) FROM requests WHERE community_id = $1 "
            "AND category IN ('fall', 'medical')",
            COMMUNITY,
        )
        return int(n) if n == 2 else None

    await eventually(recorded, what="both presses recorded as requests")


async def test_an_errand_held_for_quiet_hours_and_its_second_press_are_told_so(
    api: LocalStack, client: httpx.AsyncClient, db: asyncpg.Connection, cards: dict[str, str]
) -> None:
    await quiet_now(api, client, COMMUNITY)
    first = await client.post(cards[UNPAIRED] + "?category=errand")
    assert first.status_code == 202, first.text
    text = said(first)
    assert "已通知" not in text and "结对" not in text, text  # nobody was told, nobody paired
    assert "现在是社区安静时段，将于" in text, text  # the answer's reply: when it goes out

    again = await client.post(cards[UNPAIRED] + "?category=errand")
    assert again.status_code == 202, again.text
    text = said(again)
    assert "已通知" not in text and "结对" not in text, text
    assert "已收到" in text, text

    # One request, the second press merged into it (the intake's row, written before the
    # 202s), and the read model has it held.
    taken = await db.fetch(
        "SELECT request_id, reports FROM api_intake WHERE community_id = $1 AND bot_id = 'card' "
        "AND merge_key LIKE '%errand%'",
        COMMUNITY,
    )
    assert [r["reports"] for r in taken] == [2], taken

    async def held() -> bool:
        until = await db.fetchval(
            "SELECT held_until FROM requests WHERE request_id = $1", taken[0]["request_id"]
        )
        return until is not None

    await eventually(held, what="the card's errand held for quiet hours")
