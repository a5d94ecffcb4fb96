"""Session 42 audit (H2, finding 8): the personal page's offer form showed "社区默认方式"
ticked whatever the helper's channel was, and saving it sent `channels=()`: a helper who
ticked one skill was moved off their own channel onto the community's default. Its
channel list came from the env endpoints, not the live registry the planner sends
through (an endpoint added through the config API was missing; another community's was
listed). In-process API, a recording sink."""

from __future__ import annotations

import re
from typing import Any

import httpx

from dispatcher.api.app import create_app
from dispatcher.api.deps import ApiDeps
from dispatcher.links import helper_link
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.settings import Settings
from schemas.commands import Command, SetHelperOffer
from tests.support.platform_flow import PHONE_SECRET
from tests.unit.test_api_clock import RecordingSink
from tests.unit.test_api_fuzz_refusals import STAFF, AuditPool

OURS = EndpointConfig(name="phones", kind="webhook", url="http://p.invalid/h", secret=PHONE_SECRET)
THEIRS = EndpointConfig(
    name="elsewhere", kind="webhook", url="http://e.invalid/h", secret=PHONE_SECRET
)


class PagePool(AuditPool):
    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return []  # no in-person assignment holds the helper


def _app() -> tuple[Settings, RecordingSink, httpx.AsyncClient, ApiDeps]:
    settings = Settings(staff_token=STAFF)
    sink = RecordingSink()
    deps = ApiDeps(settings=settings, sink=sink, _pool=PagePool())
    # The live registry: one endpoint of c1 (added through the config API), one of c2.
    deps.config.endpoints.replace_owned([(OURS, "c1"), (THEIRS, "c2")])
    transport = httpx.ASGITransport(app=create_app(settings, deps))
    return settings, sink, httpx.AsyncClient(transport=transport, base_url="http://t"), deps


def _form_as_shown(text: str, skill: str) -> dict[str, str]:
    ticked = re.search(r'name="channel" value="([^"]*)" checked', text)
    assert ticked, text
    return {"skills": skill, "channel": ticked[1]}


async def test_saving_a_skill_leaves_the_helpers_channel_as_recorded() -> None:
    settings, sink, client, _ = _app()
    path = httpx.URL(helper_link(settings, helper_id="h1", community_id="c1")).raw_path.decode()
    async with client:
        page = await client.get(path)
        assert page.status_code == 200, page.text
        r = await client.post(path + "/offer", data=_form_as_shown(page.text, "driving"))
    assert r.status_code == 200, r.text
    body = Command.model_validate_json(sink.sent[-1]).body
    assert isinstance(body, SetHelperOffer)
    assert body.skills == ("driving",)
    assert body.channels is None, "the channel was not touched: it stays as recorded"


async def test_the_channels_listed_are_the_communitys_own_live_ones() -> None:
    settings, sink, client, _ = _app()
    path = httpx.URL(helper_link(settings, helper_id="h1", community_id="c1")).raw_path.decode()
    async with client:
        page = await client.get(path)
        assert 'value="webhook:phones"' in page.text, page.text
        assert "webhook:elsewhere" not in page.text, "another community's endpoint"
        chosen = await client.post(
            path + "/offer", data={"skills": "nurse", "channel": "webhook:phones"}
        )
        other = await client.post(
            path + "/offer", data={"skills": "nurse", "channel": "webhook:elsewhere"}
        )
        default = await client.post(path + "/offer", data={"skills": "nurse", "channel": ""})
    assert chosen.status_code == 200 and other.status_code == 422, (chosen.text, other.text)
    assert default.status_code == 200, default.text
    sent = [Command.model_validate_json(v).body for v in sink.sent]
    offers = [b for b in sent if isinstance(b, SetHelperOffer)]
    assert [b.channels for b in offers] == [("webhook:phones",), ()]
