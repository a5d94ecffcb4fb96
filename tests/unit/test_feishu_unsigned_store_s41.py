"""Session 41: a Feishu bot without an Encrypt Key in the live store, in production.

6b50edd refused such a bot in the bots file; the store's write path (`config apply`,
`config set-bot`, the staff config API: `Changes`) still stored it, and the API's view
served one stored before, whose callbacks anyone who has seen one can forge. Now, outside
dev mode: the write is refused (`unsigned_platform`, by bot and field, never a value); one
already stored is logged as an error at load and not served (its callbacks are refused as
an unknown bot's) while the store keeps it for staff to see and key; and the start-up check
lists a bots file's such bot as a problem (exit 78) instead of raising. No I/O but a
temporary bots file.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dispatcher.config.bootstrap import build_view, environment_problems
from dispatcher.config.changes import Changes, ConfigError
from dispatcher.config.view import ConfigView
from dispatcher.settings import Settings
from schemas.config import ConfigKind
from tests.support.config_records import old_record

NOW = datetime(2026, 12, 7, 19, 30, tzinfo=UTC)
TOKEN = "feishu-verification-token-s41-store"  # the app's, in every unsigned body
KEY = "feishu-encrypt-key-s41-store"
PRODUCTION = Settings(mode="production")


def feishu_bot(bot_id: str = "fs-open", **platform: str) -> dict[str, Any]:
    doc = {"kind": "feishu", "verification_token": TOKEN} | platform
    return {"bot_id": bot_id, "platform": doc, "communities": ["c1"]}


def community(*bots: dict[str, Any]) -> dict[str, Any]:
    return {"community_id": "c1", "display_name": "图强社区", "bots": list(bots)}


def edits(view: ConfigView, production: bool) -> Changes:
    return Changes(view=view, actor="li", now=NOW, production=production)


@pytest.mark.parametrize("platform", [{}, {"encrypt_key": ""}], ids=["absent", "empty"])
def test_production_refuses_to_store_a_feishu_bot_without_encrypt_key(
    platform: dict[str, str],
) -> None:
    for write in (
        lambda c: c.bot(feishu_bot(**platform)),  # PUT /bots/{id}
        lambda c: c.document("c1", community(feishu_bot(**platform))),  # config apply
    ):
        changes = edits(ConfigView(), production=True)
        with pytest.raises(ConfigError) as refused:
            write(changes)
        why = str(refused.value)
        assert refused.value.code == "unsigned_platform"
        assert why.startswith("bot/fs-open: platform.encrypt_key is missing")
        assert "Encrypt Key" in why and TOKEN not in why  # named, never echoed
        # The caller writes nothing of a refused edit (config_routes._run); no bot record.
        assert "bot/fs-open" not in [r.key for r in changes.outcome.records]


def test_with_its_key_production_stores_it_and_dev_stores_it_without() -> None:
    keyed = edits(ConfigView(), production=True)
    keyed.bot(feishu_bot(encrypt_key=KEY))
    assert [r.key for r in keyed.outcome.records] == ["bot/fs-open"]
    dev = edits(ConfigView(), production=False)
    dev.bot(feishu_bot())
    assert [r.key for r in dev.outcome.records] == ["bot/fs-open"]


def test_a_stored_unsigned_bot_is_not_served_in_production_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    view = build_view(PRODUCTION)  # the API's live view in production
    signed = old_record(ConfigKind.BOT, "fs-keyed", feishu_bot("fs-keyed", encrypt_key=KEY))
    with caplog.at_level(logging.ERROR):
        for record in (signed, old_record(ConfigKind.BOT, "fs-open", feishu_bot())):
            assert view.apply(record)  # stored before the write path refused it
    assert view.bots().get("fs-open") is None  # its callbacks: an unknown bot's
    assert view.bots().get("fs-keyed") is not None
    # The store keeps it: staff see it and can key it.
    assert view.ids(ConfigKind.BOT) == ["fs-keyed", "fs-open"]
    assert view.raw_state(ConfigKind.BOT, "fs-open") == feishu_bot()
    assert "bot/fs-open: platform.encrypt_key is missing" in caplog.text
    assert "not served in production" in caplog.text
    assert TOKEN not in caplog.text and "fs-keyed" not in caplog.text

    keying = edits(view, production=True)
    keying.bot(feishu_bot(encrypt_key=KEY))  # staff give it its key: served again
    for record in keying.outcome.records:
        assert view.apply(record)
    assert view.bots().get("fs-open") is not None


def test_dev_mode_serves_a_stored_unsigned_bot() -> None:
    view = build_view(Settings(mode="dev"))
    assert view.apply(old_record(ConfigKind.BOT, "fs-open", feishu_bot()))
    assert view.bots().get("fs-open") is not None


def test_the_start_up_check_lists_an_unsigned_bots_file_bot_as_a_problem(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bots.json"
    path.write_text(json.dumps({"bots": [feishu_bot()]}), encoding="utf-8")
    problems = environment_problems(Settings(mode="production", bots_file=path))
    assert len(problems) == 1
    assert "DISPATCH_BOTS_FILE[fs-open].platform.encrypt_key is missing" in problems[0]
    assert TOKEN not in problems[0]
