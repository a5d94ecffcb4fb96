"""Environment and file configuration, for bootstrapping only.

Dev mode (`make run`, the tests): the bots file (or the dev bots) and
DISPATCH_PUSH_ENDPOINTS form the layer under the store (view.py): usable at once, replaced
entity by entity by what staff write. Production: no layer; once the store is loaded, a
store that holds no bot (no endpoint) is seeded from the bots file (DISPATCH_PUSH_ENDPOINTS)
through the one write path, as actor "bootstrap", and from then on the store alone counts.
Production without any configuration still accepts no bot. What would seed the store is held
to the production rules of `config apply` (secrets.py): at start-up (dispatcher/secret_policy.py)
and again when seeding. Its bots' place names and building ids are held to the rules of every
write (names.py) wherever it is loaded: a bad one stops the process that loads it, naming the
bot and the field, never the value (the layer and the seed skip the write path's checks).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from dispatcher.config.changes import SET_ENCRYPT_KEY, ConfigError
from dispatcher.config.names import PLACE_NAME_ONLY, building_id_errors, place_name_errors
from dispatcher.config.secrets import secret_problems
from dispatcher.config.view import ConfigView, endpoint_state, plain
from dispatcher.groupchat.bots import (
    BotConfig,
    BotRegistry,
    UnsignedPlatformBot,
    load_registry,
    unsigned_platform,
)
from dispatcher.ops.api_metrics import UNSERVED_BOTS
from dispatcher.push.deliveries import community_group_endpoint
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.settings import Settings
from schemas.config import CommunityConfig, ConfigKind, ConfigRecord

log = logging.getLogger(__name__)

BOOTSTRAP_ACTOR = "bootstrap"
# Where each seeded kind is set, to name a refused secret as its operator wrote it.
_SOURCES = {ConfigKind.BOT: "DISPATCH_BOTS_FILE", ConfigKind.ENDPOINT: "DISPATCH_PUSH_ENDPOINTS"}


def place_problems(
    bots: Iterable[BotConfig],
    community: Callable[[str], CommunityConfig | None] = lambda community_id: None,
    source: str = _SOURCES[ConfigKind.BOT],
) -> list[tuple[str, str]]:
    """(error type, what is wrong and what to do) of each place name with a flat or phone,
    and each building id that names no building (`community`: the documents it is checked
    against), of bots from `source`; by bot and field, never by value."""
    problems = []
    for bot in bots:
        at = f"{source}[{bot.bot_id}]"
        problems += [
            (why, f"{at}.{path} {why}: {PLACE_NAME_ONLY}") for path, why in place_name_errors(bot)
        ]
        problems += [
            (code, f"{at}.{path} {code}: {why}")
            for path, code, why in building_id_errors(bot, community)
        ]
    return problems


def _refuse(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise ConfigError(problems[0][0], "; ".join(why for _, why in problems))


def bootstrap_config(
    settings: Settings, bots: BotRegistry | None = None
) -> tuple[list[BotConfig], list[EndpointConfig]]:
    """The bots file's bots (the dev bots, or `bots`) and the push endpoints; ConfigError
    if a bot's place names or building ids would be refused when written."""
    registry = bots if bots is not None else load_registry(settings)
    source = "bots" if bots is not None else "dev bots"
    if bots is None and settings.bots_file is not None:
        source = _SOURCES[ConfigKind.BOT]
    _refuse(place_problems(registry.bots.values(), source=source))
    return list(registry.bots.values()), list(settings.push_endpoints)


class SignedBotsView(ConfigView):
    """Production's live view: a Feishu bot stored without its Encrypt Key (before the write
    path refused it) is not served, so its callbacks, which anyone who has seen one can
    forge, are refused as an unknown bot's. The store keeps it: staff see it (`config
    show`) and give it its key with `config apply`. Logged at each write of it, by bot and
    field, never a value.

    Its groups' emergencies get no reply and dispatch nobody, so it is shown where operators
    look: `/readyz` names it (`unserved_bots`, ids only; still 200) and the gauge
    `dispatch_config_unserved_bots` counts it (alert DispatchConfigUnservedBots). Readiness
    does not depend on it: a store is every pod's, so a pod started later (a restart, a
    drained node, a scale-up) would never turn ready, and one community's bot would take
    every community's intake, emergencies included, out of service."""

    def __init__(self) -> None:
        self._all = BotRegistry()
        self._signed = self._all
        super().__init__()
        UNSERVED_BOTS.set(0)  # one view per API process: this one's store is empty yet

    def unserved_bots(self) -> list[str]:
        signed = self.bots().bots
        return sorted(bot_id for bot_id in self._all.bots if bot_id not in signed)

    def apply(self, record: ConfigRecord) -> bool:
        applied = super().apply(record)
        if applied and record.kind is ConfigKind.BOT:
            bot = super().bots().get(record.id)
            if bot is not None and (why := unsigned_platform(bot)):
                log.error(
                    "config %s: %s: not served in production; %s", record.key, why, SET_ENCRYPT_KEY
                )
            UNSERVED_BOTS.set(len(self.unserved_bots()))  # a count: no bot id as a label
        return applied

    def bots(self) -> BotRegistry:
        every = super().bots()
        if every is not self._all:  # rebuilt since: filter once per change, not per request
            self._all = every
            self._signed = BotRegistry(
                bots={k: b for k, b in every.bots.items() if unsigned_platform(b) is None}
            )
        return self._signed


def build_view(settings: Settings, bots: BotRegistry | None = None) -> ConfigView:
    if settings.mode != "dev" and bots is None:
        return SignedBotsView()
    layer_bots, layer_endpoints = bootstrap_config(settings, bots)
    return ConfigView(layer_bots, layer_endpoints)


def _owner(name: str) -> str | None:
    prefix = community_group_endpoint("")
    return name.removeprefix(prefix) if name.startswith(prefix) else None


def _problems(kind: ConfigKind, entity_id: str, state: dict[str, object]) -> list[str]:
    """Each secret not fit for production, named by entity and field, never by value."""
    return [
        f"{_SOURCES[kind]}[{entity_id}].{where} {why}"
        for where, why in secret_problems(kind.value, state)
    ]


def environment_problems(settings: Settings) -> list[str]:
    """For the start-up check: the push endpoints and the bots file, as seeding would store
    them. A bots file that is named but absent is not read here: workers, which never seed
    bots, run without it (compose mounts it in the API only); the API's seeding then fails
    on reading it, and the API never turns ready."""
    problems = [
        p
        for e in settings.push_endpoints
        for p in _problems(ConfigKind.ENDPOINT, e.name, endpoint_state(e, _owner(e.name)))
    ]
    if settings.bots_file is not None and settings.bots_file.is_file():
        try:
            bots = load_registry(settings).bots.values()
        except UnsignedPlatformBot as exc:  # one problem among the others, not a traceback
            return [*problems, str(exc)]
        for bot in bots:
            problems += _problems(ConfigKind.BOT, bot.bot_id, plain(bot))
        problems += [why for _, why in place_problems(bots)]
    return problems


def seed_records(
    view: ConfigView,
    bots: list[BotConfig],
    endpoints: list[EndpointConfig],
    now: datetime,
) -> list[ConfigRecord]:
    """Records that seed a loaded, empty store (per kind) from the environment (production
    only). Refused as a whole, like `config apply`, if any secret is not fit for production."""

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
    problems = [p for r in records for p in _problems(r.kind, r.id, r.state or {})]
    if problems:
        raise ConfigError("weak_secret", "; ".join(problems))
    if not view.stored(ConfigKind.BOT):  # the store's communities list their buildings now
        _refuse(place_problems(bots, view.community))
    return records
