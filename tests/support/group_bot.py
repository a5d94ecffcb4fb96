"""A bots file with the test bot serving one community's chat groups, generous limits."""

from __future__ import annotations

import json
from typing import Any

from dispatcher.testing.stack import LocalStack
from tests.support.bot import BOT_ID, BOT_SECRET


def use_group_bot(stack: LocalStack, name: str, community: str, groups: dict[str, Any]) -> None:
    """Write `<name>-bots.json` for the test bot (`groups`: chat group id -> place) and point
    the stack's next API at it; limits high enough that no test is rate limited."""
    bot = {
        "bot_id": BOT_ID,
        "secrets": [BOT_SECRET],
        "communities": [community],
        "groups": groups,
        "rate_per_minute": 6000,
        "burst": 500,
        "group_rate_per_minute": 6000,
        "group_burst": 500,
    }
    path = stack.root / f"{name}-bots.json"
    path.write_text(json.dumps({"bots": [bot]}), encoding="utf-8")
    stack.extra_env["DISPATCH_BOTS_FILE"] = str(path)
