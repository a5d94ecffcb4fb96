"""Session 41: production's live view (config/bootstrap.SignedBotsView) and the API's
`/readyz` config check. A Feishu bot stored without its Encrypt Key is not served; the
API that loads such a store is not ready, naming it (never a secret), until it is keyed;
once ready, one written later names itself without taking the pod out. No I/O."""

from __future__ import annotations

from typing import Any

from dispatcher.config.bootstrap import build_view
from dispatcher.config.view import ConfigView
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


def test_a_loaded_store_with_an_unsigned_feishu_bot_is_not_ready_naming_it() -> None:
    view = loaded("production", feishu_bot("fs-open"), feishu_bot("fs-keyed", encrypt_key=KEY))
    why = view.readiness()
    assert why.startswith("unsigned_platform: ")
    assert "fs-open" in why and "fs-keyed" not in why and "platform.encrypt_key" in why
    assert TOKEN not in why and KEY not in why
    assert view.readiness() == why  # asked again (each probe): still not ready
    assert view.unserved_bots() == ["fs-open"]


def test_loading_says_loading_and_keying_it_makes_the_api_ready() -> None:
    view = build_view(Settings(mode="production"))
    assert view.apply(old_record(ConfigKind.BOT, "fs-open", feishu_bot("fs-open")))
    assert view.readiness() == "loading"
    view.loaded = True
    assert view.readiness().startswith("unsigned_platform: ")
    assert view.apply(old_record(ConfigKind.BOT, "fs-open", feishu_bot("fs-open", encrypt_key=KEY)))
    assert view.readiness() == "ok"
    assert view.unserved_bots() == []


def test_once_ready_a_later_unsigned_bot_is_named_but_keeps_the_api_ready() -> None:
    view = loaded("production", feishu_bot("fs-keyed", encrypt_key=KEY))
    assert view.readiness() == "ok"
    assert view.apply(old_record(ConfigKind.BOT, "fs-late", feishu_bot("fs-late")))
    assert view.readiness() == "ok"  # every pod at once would leave the service otherwise
    assert view.unserved_bots() == ["fs-late"]
    assert view.bots().get("fs-late") is None  # and still not served


def test_dev_mode_serves_it_and_is_ready() -> None:
    view = loaded("dev", feishu_bot("fs-open"))
    assert view.readiness() == "ok"
    assert view.unserved_bots() == []
