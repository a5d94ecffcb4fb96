"""Finding 8, the smaller ones: no bot-id oracle, no table browsing on the worker's web
port, no formula injection in CSV reports, no markdown injection into WeCom groups, and one
bot cannot close another bot's request."""

from __future__ import annotations

import base64
import csv
import io
import json

import httpx

from dispatcher.ops.reports import MonthReport, days_csv, helpers_csv
from dispatcher.push.channels import WeComChannel
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.push.model import Delivery, PushKind, PushMessage
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.bot import BotClient, bots_file_doc, bound_payload, sign
from tests.support.waiting import eventually

COMMUNITY = "sec-small"
OTHER_BOT = "other-bot"
OTHER_SECRET = "whsec_" + base64.b64encode(b"the-other-bots-secret-0123456789").decode()
WRONG_KEY = "whsec_" + base64.b64encode(b"a-key-no-bot-has-0123456789abcd").decode()
FORMULAS = ('=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)")


def bots_doc() -> dict[str, object]:
    doc = bots_file_doc({COMMUNITY})
    bots = doc["bots"]
    assert isinstance(bots, list)
    bots.append({**bots[0], "bot_id": OTHER_BOT, "secrets": [OTHER_SECRET]})
    return doc


async def api_with_two_bots(stack: LocalStack) -> None:
    (stack.root / "bots.json").write_text(json.dumps(bots_doc()))
    await stack.wait_ready(stack.spawn("api", "api"))


async def test_unknown_bot_and_bad_signature_get_the_same_answer(stack: LocalStack) -> None:
    stack.start_worker("worker-small")
    await api_with_two_bots(stack)
    body = json.dumps(builders.request(COMMUNITY)).encode()
    answers = []
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        for bot_id in ("test-bot", "no-such-bot"):
            headers = {"content-type": "application/json", "x-bot-id": bot_id}
            r = await client.post(
                "/v1/requests",
                content=body,
                headers={
                    **headers,
                    **sign(bound_payload("POST", "/v1/requests", body), secret=WRONG_KEY),
                },
            )
            answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401 and answers[0][1]["detail"]["reason"] == "bad_signature"


async def test_one_bot_cannot_close_another_bots_request(stack: LocalStack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        r = await BotClient(client).post("/v1/requests", builders.request(COMMUNITY))
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]
        for action in ("cancel", "resolve"):
            payload = json.dumps({"request_id": rid}).encode()
            headers = {
                "content-type": "application/json",
                "x-bot-id": OTHER_BOT,
                **sign(
                    bound_payload("POST", f"/v1/requests/{rid}/{action}", payload),
                    secret=OTHER_SECRET,
                ),
            }
            r = await client.post(f"/v1/requests/{rid}/{action}", content=payload, headers=headers)
            assert r.status_code == 403, r.text
            assert r.json()["detail"]["reason"] == "not_your_request"
        # Its own bot still may.
        r = await BotClient(client).post(f"/v1/requests/{rid}/cancel", {"request_id": rid})
        assert r.status_code == 202, r.text


async def test_the_worker_web_port_serves_no_tables(stack: LocalStack) -> None:
    worker = next(p for p in stack.procs if p.name == "worker-small")

    async def serving() -> bool:
        return await stack.worker_stats(worker) is not None

    await eventually(serving, what="the worker's web server")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.web_port}") as client:
        for path in ("/table/", "/table/requests/", "/router/", "/graph/"):
            assert (await client.get(path)).status_code == 404, path


def test_report_cells_cannot_become_formulas() -> None:
    report = MonthReport(
        community_id="c1",
        month="2026-11",
        days=[],
        total={"day": "2026-11"},
        helpers=[{"helper_id": f, "assignments": -1, "service_hours": 2.5} for f in FORMULAS],
    )
    rows = list(csv.reader(io.StringIO(helpers_csv(report))))[1:]
    assert [r[2] for r in rows] == ["'" + f for f in FORMULAS]
    assert {r[3] for r in rows} == {"-1"}  # numbers stay numbers
    assert days_csv(report)  # the other table goes through the same guard


async def test_building_names_cannot_inject_wecom_markdown() -> None:
    endpoint = EndpointConfig.model_validate(
        {
            "name": "ep",
            "kind": "wecom",
            "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
            "token": "KEY",
            "message_format": "markdown",
        }
    )
    building = '3号楼](https://evil.example/phish) <@all> <font color="warning">**紧急**</font>'
    delivery = Delivery.model_validate(
        {
            "delivery_id": "d1",
            "endpoint": "ep",
            "kind": PushKind.WHISTLE,
            "message": PushMessage(title="求助", text=f"【求助】{building} 需要帮忙 [详情](x)"),
            "mentions": (),
            "data": {},
        }
    )
    sent: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"errcode": 0})

    async with httpx.AsyncClient(transport=httpx.MockTransport(capture)) as client:
        await WeComChannel(endpoint, client, lambda: 0.0).send(delivery)
    content = json.loads(sent[0].content)["markdown"]["content"]
    for active in ("](", "[", "<@", "<font", "**"):
        assert active not in content, active
    assert "3号楼" in content and "需要帮忙" in content


async def test_a_signature_is_good_for_one_method_and_path_only(stack: LocalStack) -> None:
    """A bot's signed resolve, sent to cancel instead (same body, fresh webhook-id so the
    replay guard is not what stops it): refused, because method and path are signed."""
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as client:
        r = await BotClient(client).post("/v1/requests", builders.request(COMMUNITY))
        assert r.status_code == 202, r.text
        rid = r.json()["request_id"]
        body = json.dumps({"request_id": rid}).encode()
        meant = sign(bound_payload("POST", f"/v1/requests/{rid}/resolve", body))
        headers = {"content-type": "application/json", "x-bot-id": "test-bot", **meant}
        r = await client.post(f"/v1/requests/{rid}/cancel", content=body, headers=headers)
        assert r.status_code == 401 and r.json()["detail"]["reason"] == "bad_signature"
        # The body alone (the old scheme) is no longer enough either.
        headers = {"content-type": "application/json", "x-bot-id": "test-bot", **sign(body)}
        r = await client.post(f"/v1/requests/{rid}/resolve", content=body, headers=headers)
        assert r.status_code == 401
