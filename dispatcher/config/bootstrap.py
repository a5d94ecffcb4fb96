"""Environment and file configuration, for bootstrapping only.

Dev mode (`make run`, the tests): the bots file (or the dev bots) and
DISPATCH_PUSH_ENDPOINTS form the layer under the store (view.py): usable at once, replaced
entity by entity by what staff write. Production: no layer; once the store is loaded, a
store that holds no bot (no endpoint) is seeded from the bots file (DISPATCH_PUSH_ENDPOINTS)
through the one write path, as actor "bootstrap", and from then on the store alone counts.
Production without any configuration still accepts no bot.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from dispatcher.config.view import ConfigView, endpoint_state, plain
from dispatcher.groupchat.bots import BotConfig, BotRegistry, load_registry
from dispatcher.push.deliveries import community_group_endpoint
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.settings import Settings
from schemas.config import ConfigKind, ConfigRecord

BOOTSTRAP_ACTOR = "bootstrap"


def bootstrap_config(
    settings: Settings, bots: BotRegistry | None = None
) -> tuple[list[BotConfig], list[EndpointConfig]]:
    registry = bots if bots is not None else load_registry(settings)
    return list(registry.bots.values()), list(settings.push_endpoints)


def build_view(settings: Settings, bots: BotRegistry | None = None) -> ConfigView:
    if settings.mode != "dev" and bots is None:
        return ConfigView()
    layer_bots, layer_endpoints = bootstrap_config(settings, bots)
    return ConfigView(layer_bots, layer_endpoints)


def _owner(name: str) -> str | None:
    prefix = community_group_endpoint("")
    return name.removeprefix(prefix) if name.startswith(prefix) else None


def seed_records(
    view: ConfigView,
    bots: list[BotConfig],
    endpoints: list[EndpointConfig],
    now: datetime,
) -> list[ConfigRecord]:
    """Records that seed a loaded, empty store (per kind) from the environment."""

    def record(
        kind: ConfigKind, entity_id: str, state: dict[str, object], owners: tuple[str, ...]
    ) -> ConfigRecord:
        return ConfigRecord(
            change_id=uuid.uuid4().hex,
            kind=kind,
            id=entity_id,
            actor=BOOTSTRAP_ACTOR,
            issued_at=now,
            communities=owners,
            state=state,
        )

    records = []
    if not view.stored(ConfigKind.BOT):
        records += [
            record(ConfigKind.BOT, b.bot_id, plain(b), tuple(sorted(b.communities))) for b in bots
        ]
    if not view.stored(ConfigKind.ENDPOINT):
        for e in endpoints:
            owner = _owner(e.name)
            records.append(
                record(
                    ConfigKind.ENDPOINT, e.name, endpoint_state(e, owner), (owner,) if owner else ()
                )
            )
    return records
