"""Configuration as data (dispatcher/config): the fold, the edits, secrets, whistle
recipients and a live endpoint change in the push engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.config.bootstrap import build_view, seed_records
from dispatcher.config.changes import Changes, ConfigError
from dispatcher.config.secrets import diff, fingerprinted, new_secret, production_problems, shown
from dispatcher.config.view import ConfigView
from dispatcher.groupchat.bots import BotConfig
from dispatcher.push import Deliverer, Delivery, PushKind
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.push.model import PushMessage
from dispatcher.settings import Settings
from schemas.config import ConfigKind, ConfigRecord

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
SECRET = new_secret()


def edits(view: ConfigView, production: bool = False) -> Changes:
    return Changes(view=view, actor="li", now=NOW, production=production)


def apply(view: ConfigView, changes: Changes) -> None:
    for record in changes.outcome.records:
        assert view.apply(record)


def doc(url: str = "http://127.0.0.1:9/a", **extra: Any) -> dict[str, Any]:
    return {
        "community_id": "c1",
        "display_name": "图强社区",
        "contacts": [
            {"role": "grid_worker", "name": "小林", "endpoint": "c1-phones", "grid_id": "g1"},
            {"role": "department", "name": "派出所", "endpoint": "c1-phones"},
        ],
        "push_endpoints": [{"name": "c1-phones", "kind": "webhook", "url": url}],
        "bots": [{"bot_id": "b1", "groups": {"grp": {"community_id": "c1"}}}],
        **extra,
    }


def test_a_document_applies_once_and_again_changes_nothing() -> None:
    view = ConfigView()
    first = edits(view)
    first.document("c1", doc())
    assert sorted(r.key for r in first.outcome.records) == [
        "bot/b1",
        "community/c1",
        "endpoint/c1-phones",
    ]
    # The bot and the webhook got 32 random bytes each, answered once.
    assert set(first.outcome.new_secrets) == {"bot/b1", "endpoint/c1-phones"}
    apply(view, first)
    assert view.bots().get("b1") is not None and "c1-phones" in view.endpoints
    again = edits(view)
    again.document("c1", doc())  # secrets left out: kept
    assert again.outcome.records == [] and len(again.outcome.unchanged) == 3
    assert again.outcome.new_secrets == {}


def test_rotation_keeps_the_old_secret_until_it_is_dropped() -> None:
    view = ConfigView()
    c = edits(view)
    c.bot({"bot_id": "b1", "secrets": [SECRET], "communities": ["c1"]})
    apply(view, c)
    old_key = view.bots().bots["b1"].keys()
    rotate = edits(view)
    rotate.rotate_bot("b1", None)
    apply(view, rotate)
    keys = view.bots().bots["b1"].keys()
    assert len(keys) == 2 and keys[1] == old_key[0]
    with pytest.raises(ConfigError) as twice:
        edits(view).rotate_bot("b1", None)
    assert twice.value.code == "previous_secret_left"
    drop = edits(view)
    drop.drop_previous_secrets("b1")
    apply(view, drop)
    assert view.bots().bots["b1"].keys() == keys[:1]


def test_production_refuses_weak_secrets_and_dev_accepts_them() -> None:
    weak = {
        "bot_id": "b1",
        "secrets": ["whsec_" + "ZGV2LW9ubHktMTYtYnl0ZXM="],
        "communities": ["c1"],
    }
    with pytest.raises(ConfigError) as refused:
        edits(ConfigView(), production=True).bot(dict(weak))
    assert refused.value.code == "weak_secret" and "bot secrets" in str(refused.value)
    assert SECRET not in str(refused.value)
    edits(ConfigView(), production=False).bot(dict(weak))  # dev: fine
    strong = edits(ConfigView(), production=True)
    strong.bot({"bot_id": "b1", "communities": ["c1"]})  # generated: 32 random bytes
    assert len(strong.outcome.records) == 1
    assert production_problems("endpoint", {"kind": "wecom", "token": "change-me"})


def test_the_fold_is_last_write_wins_and_a_removal_hides_the_bootstrap_layer() -> None:
    boot = BotConfig(bot_id="dev", secrets=(SecretStr(SECRET),), communities=frozenset({"c1"}))
    view = ConfigView(bootstrap_bots=[boot])
    assert view.bots().get("dev") is not None
    registry = view.endpoints
    for url in ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b"):
        c = edits(view)
        c.endpoint({"name": "ep", "kind": "webhook", "url": url, "secret": SECRET}, "c1")
        apply(view, c)
    assert str(view.endpoints.get("ep").url).endswith("/b") and view.endpoints is registry
    gone = edits(view)
    gone.remove(ConfigKind.BOT, "dev")
    apply(view, gone)
    assert view.bots().get("dev") is None


def test_an_invalid_record_is_ignored_and_the_old_state_kept() -> None:
    view = ConfigView()
    c = edits(view)
    c.bot({"bot_id": "b1", "secrets": [SECRET], "communities": ["c1"]})
    apply(view, c)
    bad = c.outcome.records[0].model_copy(update={"state": {"bot_id": "b1", "secrets": ["x"]}})
    assert not view.apply(bad)
    assert view.bots().get("b1") is not None


def test_whistle_recipients_narrow_to_the_place() -> None:
    view = ConfigView()
    c = edits(view)
    c.document("c1", doc())
    apply(view, c)
    assert [r.name for r in view.whistle_recipients("c1")] == ["小林", "派出所"]
    assert [r.name for r in view.whistle_recipients("c1", grid_id="g2")] == ["派出所"]
    assert view.whistle_recipients("elsewhere") == ()


def test_contacts_must_name_known_endpoints() -> None:
    with pytest.raises(ConfigError) as refused:
        edits(ConfigView()).document("c1", {**doc(), "push_endpoints": []})
    assert refused.value.code == "unknown_endpoint"


def test_secrets_are_shown_as_set_and_audited_as_changed_without_values() -> None:
    key = b"k" * 32
    before = {"bot_id": "b1", "secrets": [SECRET], "rate_per_minute": 60}
    after = {"bot_id": "b1", "secrets": [new_secret(), SECRET], "rate_per_minute": 30}
    changes = diff(fingerprinted(before, key), fingerprinted(after, key))
    assert {"path": "secrets", "secret": "changed"} in changes
    assert {"path": "rate_per_minute", "before": 60, "after": 30} in changes
    assert SECRET not in str(changes) and SECRET not in str(fingerprinted(before, key))
    assert shown(after)["secrets"] == ["(set)", "(set)"]
    assert shown({"platform": {"kind": "wecom", "token": "t"}})["platform"]["token"] == "(set)"


def test_production_seeds_an_empty_store_and_never_layers_the_environment() -> None:
    ep = EndpointConfig.model_validate(
        {"name": "community-c1", "kind": "wecom", "url": "http://127.0.0.1:9/", "token": "t"}
    )
    prod = Settings(mode="production", push_endpoints=[ep])
    view = build_view(prod)
    assert len(view.endpoints) == 0 and view.bots().bots == {}
    records = seed_records(view, [], [ep], NOW)
    assert [(r.key, r.actor, r.communities) for r in records] == [
        ("endpoint/community-c1", "bootstrap", ("c1",))
    ]
    view.apply(records[0])
    assert seed_records(view, [], [ep], NOW) == []  # not empty any more
    assert len(build_view(Settings(mode="dev", push_endpoints=[ep])).endpoints) == 1


def test_a_record_round_trips_through_the_topic_format() -> None:
    c = edits(ConfigView())
    c.bot({"bot_id": "b1", "secrets": [SECRET], "communities": ["c1"]})
    record = c.outcome.records[0]
    assert ConfigRecord.model_validate_json(record.model_dump_json()) == record
    assert record.key == "bot/b1" and record.communities == ("c1",)


async def test_a_changed_endpoint_url_takes_the_next_push() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200)

    view = ConfigView()
    c = edits(view)
    c.endpoint(
        {"name": "ep", "kind": "webhook", "url": "http://relay.test/a", "secret": SECRET}, None
    )
    apply(view, c)
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    done: list[str] = []

    async def delivered(delivery: Delivery, latency: float) -> None:
        done.append(delivery.delivery_id)

    async with Deliverer(view.endpoints, client=client, on_delivered=delivered) as deliverer:

        def delivery(n: int) -> Delivery:
            return Delivery(
                delivery_id=f"d{n}",
                endpoint="ep",
                kind=PushKind.OFFER,
                message=PushMessage(title="t", text="x"),
            )

        await deliverer.submit(delivery(1))
        await deliverer.drain(5)
        move = edits(view)
        move.endpoint({"name": "ep", "kind": "webhook", "url": "http://relay.test/b"}, None)
        apply(view, move)
        await deliverer.submit(delivery(2))
        await deliverer.drain(5)
    await client.aclose()
    assert seen == ["/a", "/b"] and done == ["d1", "d2"]
