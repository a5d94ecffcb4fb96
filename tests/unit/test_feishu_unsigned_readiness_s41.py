"""Session 41: production's live view (config/bootstrap.SignedBotsView) and the API's
`/readyz`. A Feishu bot stored without its Encrypt Key is not served (d576326). It is
shown, never a reason to be unready: `/readyz` stays 200 and lists its id in
`unserved_bots` (never a secret), and the gauge `dispatch_config_unserved_bots` counts it
(no label naming a bot or a community) until it is keyed.

d553404 made such a store unready (503) until keyed, latched once ready: a pod started
later (a restart, a drained node, a scale-up) reads the same store and never turned ready,
so after a node failure no API pod served any community, emergencies included, for one
community's bot. Kafka and PostgreSQL are fakes that answer (a unit test: no I/O)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI

from dispatcher.api import health
from dispatcher.config.bootstrap import build_view
from dispatcher.config.view import ConfigView
from dispatcher.ops import api_metrics
from dispatcher.settings import Settings
from schemas.config import ConfigKind
from tests.support.config_records import old_record

TOKEN = "feishu-verification-token-s41-ready"
KEY = "feishu-encrypt-key-s41-ready"


def feishu_bot(bot_id: str, **platform: str) -> dict[str, Any]:
    doc = {"kind": "feishu", "verification_token": TOKEN} | platform
    return {"bot_id": bot_id, "platform": doc, "communities": ["c1"]}


def loaded(mode: str, *bots: dict[str, Any]) -> ConfigView:
    view = build_view(Settings(mode=mode))
    for bot in bots:
        assert view.apply(old_record(ConfigKind.BOT, bot["bot_id"], bot))
    view.loaded = True  # the follower read the topic to its end (and seeded nothing)
    return view


def unserved_gauge() -> float | None:
    return api_metrics.REGISTRY.get_sample_value("dispatch_config_unserved_bots")


class Sink:
    async def check(self) -> None:
        return None


class Db:
    async def fetchval(self, query: str) -> int:
        return 1


async def readyz(view: ConfigView) -> httpx.Response:
    """The API's `/readyz` over `view`, Kafka and PostgreSQL answering."""

    async def pool() -> Db:
        return Db()

    app = FastAPI()
    app.include_router(health.router)
    app.state.deps = SimpleNamespace(sink=Sink(), pool=pool, config=view)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api:8080") as client:
        return await client.get("/readyz")


async def test_a_pod_started_on_a_store_with_an_unsigned_bot_is_ready_and_names_it() -> None:
    """The reviewer's restart: the store already holds the bot when the pod starts."""
    view = loaded("production", feishu_bot("fs-open"), feishu_bot("fs-keyed", encrypt_key=KEY))
    r = await readyz(view)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["ready"] is True and answer["checks"]["config"] == "ok"
    assert answer["unserved_bots"] == ["fs-open"]
    assert TOKEN not in r.text and KEY not in r.text
    assert unserved_gauge() == 1
    assert view.bots().get("fs-open") is None  # still not served
    assert view.bots().get("fs-keyed") is not None


async def test_a_pod_already_serving_and_a_pod_started_later_answer_alike() -> None:
    old_pod = loaded("production", feishu_bot("fs-keyed", encrypt_key=KEY))
    assert old_pod.apply(old_record(ConfigKind.BOT, "fs-late", feishu_bot("fs-late")))
    new_pod = loaded("production", feishu_bot("fs-keyed", encrypt_key=KEY), feishu_bot("fs-late"))
    for pod in (old_pod, new_pod):
        r = await readyz(pod)
        assert r.status_code == 200, r.text
        assert r.json()["unserved_bots"] == ["fs-late"]
    assert unserved_gauge() == 1


async def test_loading_is_not_ready_and_keying_it_clears_list_and_gauge() -> None:
    view = build_view(Settings(mode="production"))
    assert view.apply(old_record(ConfigKind.BOT, "fs-open", feishu_bot("fs-open")))
    r = await readyz(view)
    assert r.status_code == 503 and r.json()["checks"]["config"] == "loading"
    view.loaded = True
    assert (await readyz(view)).status_code == 200
    assert unserved_gauge() == 1
    assert view.apply(old_record(ConfigKind.BOT, "fs-open", feishu_bot("fs-open", encrypt_key=KEY)))
    r = await readyz(view)
    assert r.status_code == 200 and "unserved_bots" not in r.json()
    assert view.unserved_bots() == []
    assert unserved_gauge() == 0
    assert view.bots().get("fs-open") is not None


def test_the_gauge_counts_and_names_nobody() -> None:
    loaded("production", feishu_bot("fs-a"), feishu_bot("fs-b"))
    assert unserved_gauge() == 2
    series = [
        s
        for metric in api_metrics.REGISTRY.collect()
        if metric.name == "dispatch_config_unserved_bots"
        for s in metric.samples
    ]
    assert [s.labels for s in series] == [{}]  # no bot or community id as a label


async def test_dev_mode_serves_it_and_is_ready() -> None:
    view = loaded("dev", feishu_bot("fs-open"))
    r = await readyz(view)
    assert r.status_code == 200 and "unserved_bots" not in r.json()
    assert view.unserved_bots() == []
