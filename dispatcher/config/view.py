"""The live configuration: the `config` topic folded into memory.

Every process that needs configuration (the API: bot signatures, group → place; the worker:
push endpoints, whistle recipients) keeps one `ConfigView`, fed by its own follower
(`follower.py`) from the topic's beginning and then as records arrive. A record replaces
its entity's state (last write wins; the topic's order is the order of the writes), so all
processes that have read to the same offsets hold the same view, and a compacted topic
still gives the current one.

Under the store, in dev mode only, lies the bootstrap layer (the bots file or the dev bots,
DISPATCH_PUSH_ENDPOINTS): an entity of the store replaces the layer's entity of the same id,
a removal hides it. In production the layer is empty; the environment only seeds an empty
store (`bootstrap.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from enum import Enum
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from dispatcher.config.names import cut_place_names, place_name_errors
from dispatcher.groupchat.bots import BotConfig, BotRegistry
from dispatcher.push.endpoints import EndpointConfig
from dispatcher.push.recipients import OwnedEndpoints
from schemas.config import (
    CommunityConfig,
    ConfigKind,
    ConfigRecord,
    Hotline,
    WhistleRecipient,
)

log = logging.getLogger(__name__)

Entity = CommunityConfig | BotConfig | EndpointConfig


def plain(value: Any) -> Any:
    """A model as JSON-ready data with its secrets in clear: what a record's state holds.
    (pydantic's own dump masks SecretStr.)"""
    if isinstance(value, BaseModel):
        return {
            k: plain(getattr(value, k))
            for k in type(value).model_fields
            if getattr(value, k) is not None
        }
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # URLs, times


def endpoint_state(endpoint: EndpointConfig, community_id: str | None) -> dict[str, Any]:
    state: dict[str, Any] = plain(endpoint)
    state["community_id"] = community_id
    return state


def parse(kind: ConfigKind, state: dict[str, Any]) -> tuple[Entity, str | None]:
    """A record's state as its model, and (endpoints) the community that owns it."""
    if kind is ConfigKind.COMMUNITY:
        return CommunityConfig.model_validate(state), None
    if kind is ConfigKind.BOT:
        return BotConfig.model_validate(state), None
    rest = dict(state)
    owner = rest.pop("community_id", None)
    return EndpointConfig.model_validate(rest), owner


class ConfigView:
    def __init__(
        self,
        bootstrap_bots: Iterable[BotConfig] = (),
        bootstrap_endpoints: Iterable[EndpointConfig] = (),
    ) -> None:
        self._layer: dict[ConfigKind, dict[str, Entity]] = {
            ConfigKind.COMMUNITY: {},
            ConfigKind.BOT: {b.bot_id: b for b in bootstrap_bots},
            ConfigKind.ENDPOINT: {e.name: e for e in bootstrap_endpoints},
        }
        self._records: dict[str, ConfigRecord] = {}
        self._parsed: dict[str, tuple[Entity, str | None]] = {}
        # The push engine holds this very registry: it is updated in place. The delivery
        # planner reads its owners: a community's messages go to its own endpoints only.
        self.endpoints = OwnedEndpoints()
        self._bots = BotRegistry()
        self._communities: dict[str, CommunityConfig] = {}
        self.positions: dict[int, int] = {}  # partition → next offset to apply
        self.loaded = False  # read up to the topic's end as it was at start
        for kind in ConfigKind:
            self._rebuild(kind)

    # ---------------------------------------------------------------- the fold
    def apply(self, record: ConfigRecord) -> bool:
        """Fold one record in; False (and the old state kept) if its state is invalid."""
        if record.state is not None:
            try:
                self._parsed[record.key] = parse(record.kind, record.state)
            except ValidationError as exc:
                # Never the values (secrets): only which entity and which fields.
                fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
                log.error(
                    "config change %s of %s ignored: invalid %s",
                    record.change_id,
                    record.key,
                    fields,
                )
                return False
            model, owner = self._parsed[record.key]
            if bad := place_name_errors(model):
                # Written before such names were refused: still read (the entity would be
                # lost otherwise), its names cut as an edit would cut them, so no request is
                # labelled with the flat or phone until one does (the record keeps them:
                # `raw_state`, the next edit's `names_cut`). The fields, never the names.
                paths = [path for path, _ in bad]
                self._parsed[record.key] = (cut_place_names(model, set(paths)), owner)
                log.warning(
                    "config %s: place names %s hold a flat or phone: cut where read "
                    "(and when next written)",
                    record.key,
                    paths,
                )
        else:
            self._parsed.pop(record.key, None)
        self._records[record.key] = record
        self._rebuild(record.kind)
        return True

    def _effective(self, kind: ConfigKind) -> dict[str, tuple[Entity, str | None]]:
        found: dict[str, tuple[Entity, str | None]] = {
            k: (v, None) for k, v in self._layer[kind].items()
        }
        for record in self._records.values():
            if record.kind is not kind:
                continue
            if record.state is None:
                found.pop(record.id, None)
            elif record.key in self._parsed:
                found[record.id] = self._parsed[record.key]
        return found

    def _rebuild(self, kind: ConfigKind) -> None:
        found = self._effective(kind)
        if kind is ConfigKind.BOT:
            self._bots = BotRegistry(
                bots={k: v for k, (v, _) in found.items() if isinstance(v, BotConfig)}
            )
        elif kind is ConfigKind.ENDPOINT:
            self.endpoints.replace_owned(
                (v, owner) for v, owner in found.values() if isinstance(v, EndpointConfig)
            )
        else:
            self._communities = {
                k: v for k, (v, _) in found.items() if isinstance(v, CommunityConfig)
            }

    # ---------------------------------------------------------------- reading
    def unserved_bots(self) -> list[str]:
        """Ids of bots stored but not served (none here: bootstrap.SignedBotsView); named
        by `/readyz`, never a reason to be unready."""
        return []

    def bots(self) -> BotRegistry:
        return self._bots

    def community(self, community_id: str) -> CommunityConfig | None:
        return self._communities.get(community_id)

    def hotlines(self, community_id: str) -> tuple[Hotline, ...]:
        """The community's configured numbers (社区值班…), said besides 120/110/119."""
        community = self._communities.get(community_id)
        return () if community is None else community.hotlines

    def communities(self) -> list[CommunityConfig]:
        return list(self._communities.values())

    def endpoint_owner(self, name: str) -> str | None:
        """The community an endpoint belongs to (None: district-wide, or unknown)."""
        return self.endpoints.owner(name)

    def whistle_recipients(
        self,
        community_id: str,
        grid_id: str | None = None,
        compound_id: str | None = None,
        building_id: str | None = None,
    ) -> tuple[WhistleRecipient, ...]:
        """Who the whistle calls in a community (its department contacts), narrowed to a
        place when one is given: the one read function the whistle code uses."""
        community = self._communities.get(community_id)
        if community is None:
            return ()
        if grid_id is None and compound_id is None and building_id is None:
            return community.contacts
        return tuple(c for c in community.contacts if c.covers(grid_id, compound_id, building_id))

    def stored(self, kind: ConfigKind) -> list[ConfigRecord]:
        """The store's current records of a kind (removals included)."""
        return [r for r in self._records.values() if r.kind is kind]

    def raw_state(self, kind: ConfigKind, entity_id: str) -> dict[str, Any] | None:
        """An entity's state with its secrets (API only: the base of a partial change)."""
        record = self._records.get(f"{kind.value}/{entity_id}")
        if record is not None:
            return None if record.state is None else dict(record.state)
        layered = self._layer[kind].get(entity_id)
        if layered is None:
            return None
        if isinstance(layered, EndpointConfig):
            return endpoint_state(layered, None)
        state: dict[str, Any] = plain(layered)
        return state

    def ids(self, kind: ConfigKind) -> list[str]:
        return sorted(self._effective(kind))
