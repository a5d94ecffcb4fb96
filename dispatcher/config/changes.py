"""Staff edits → config records: a whole community document, one bot, one endpoint, a
rotation. Pure but for the random secrets it may create; the API checks scope, writes the
records and waits for its view to show them.

Idempotent: an entity whose new state equals its current one yields no record, so applying
the same document twice changes (and audits) nothing. Secrets left out of an edit are kept;
a new bot or webhook endpoint without one gets 32 random bytes, returned once to the caller.
Outside dev mode a Feishu bot without its Encrypt Key is refused (`unsigned_platform`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from dispatcher.config.contacts import (
    CONTACT_NAME_ONLY,
    GroupArea,
    area_problems,
    endpoint_problems,
    kept,
    name_problems,
    reaches,
    users,
    who,
)
from dispatcher.config.names import (
    PLACE_NAME_ONLY,
    building_id_errors,
    building_refs,
    cut_place_names,
    place_name_errors,
    place_names,
)
from dispatcher.config.policies import empty_quiet_hours
from dispatcher.config.secrets import new_secret, production_problems
from dispatcher.config.view import ConfigView, endpoint_state, parse, plain
from dispatcher.groupchat.bots import BotConfig, unsigned_platform
from dispatcher.push.endpoints import EndpointConfig
from schemas.config import CommunityConfig, ConfigKind, ConfigRecord
from schemas.plans import PLAN_SETS
from schemas.text import unstorable, unstorable_in

log = logging.getLogger(__name__)

# What a Feishu bot refused for want of an Encrypt Key is told (production only).
SET_ENCRYPT_KEY = (
    "set the app's Encrypt Key (Feishu developer console, 事件与回调 > 加密策略) as the "
    "bot's platform encrypt_key"
)


class ConfigError(ValueError):
    """A change that cannot be made; `code` is the API's reason."""

    def __init__(
        self, code: str, message: str, community: str | None = None, unnamed: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        # A message naming a community's contact: shown only to staff who may act in
        # `community`; others get `unnamed`, the same refusal naming no one.
        self.community = community
        self.unnamed = unnamed


@dataclass
class Outcome:
    records: list[ConfigRecord] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    new_secrets: dict[str, str] = field(default_factory=dict)  # entity key → secret, shown once
    # Entity key → paths of the names it was stored with that held a flat or phone, cut by
    # this edit (`names.py`): staff see what to check, never the names.
    names_cut: dict[str, list[str]] = field(default_factory=dict)
    # Every entity the edit touched, changed or not, with its new state (None: removed):
    # what the caller's scope must cover (an unchanged answer says something too).
    touched: list[tuple[ConfigKind, str, dict[str, Any] | None]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "changed": [r.key for r in self.records],
            "unchanged": self.unchanged,
            "new_secrets": self.new_secrets,
            "names_cut": self.names_cut,
        }


@dataclass
class Changes:
    view: ConfigView
    actor: str
    now: datetime
    production: bool
    outcome: Outcome = field(default_factory=Outcome)
    # Community documents of this edit, which its bots' building ids are checked against.
    communities: dict[str, CommunityConfig] = field(default_factory=dict)

    # ---------------------------------------------------------------- one entity
    def _record(self, kind: ConfigKind, entity_id: str, state: dict[str, Any] | None) -> None:
        key = f"{kind.value}/{entity_id}"
        current = self.view.raw_state(kind, entity_id)
        communities: tuple[str, ...] = ()
        if state is not None:
            if why := unstorable_in(state):  # before anything echoes it (a 500, a crash loop)
                raise ConfigError("invalid", f"{kind.value if unstorable(key) else key}: {why}")
            try:
                model, owner = parse(kind, state)
            except ValidationError as exc:
                # Each field with its reason (a secret's says how to make one), never its value.
                why_by_field: dict[str, str] = {}
                for e in exc.errors(include_input=False, include_url=False):
                    why_by_field.setdefault(".".join(map(str, e["loc"])), e["msg"])
                reasons = "; ".join(f"{f} ({why})" for f, why in sorted(why_by_field.items()))
                raise ConfigError("invalid", f"{key}: invalid {reasons}") from None
            model = self._places_checked(kind, key, model, current)
            if isinstance(model, CommunityConfig) and (why := empty_quiet_hours(model)):
                # Refused when written, not when kept as stored (session 40's rule: an edit of
                # another field of a community stored before this check goes through).
                was = {} if current is None else self._normalised(kind, current)
                if was.get("quiet_hours") != plain(model)["quiet_hours"]:
                    raise ConfigError("invalid", f"{key}: {why}")
            if self.production:
                if isinstance(model, BotConfig) and (why := unsigned_platform(model)):
                    # Its callbacks could be forged by anyone who has seen one (bots.py).
                    raise ConfigError("unsigned_platform", f"{key}: {why}: {SET_ENCRYPT_KEY}")
                problems = production_problems(kind.value, state)
                if problems:
                    raise ConfigError("weak_secret", "; ".join(problems))
            # Normalised (defaults filled, sets sorted), so equal configs compare equal.
            state = (
                endpoint_state(model, owner) if isinstance(model, EndpointConfig) else plain(model)
            )
            communities = self.communities_of(kind, state)
        self.outcome.touched.append((kind, entity_id, state))
        if current is not None and state is not None:
            current = self._normalised(kind, current)
        if state == current:
            self.outcome.unchanged.append(key)
            return
        if state is None and current is not None:
            communities = self.communities_of(kind, current)
        self.outcome.records.append(
            ConfigRecord(
                change_id=uuid.uuid4().hex,
                kind=kind,
                id=entity_id,
                actor=self.actor,
                issued_at=self.now,
                communities=communities,
                state=state,
            )
        )

    def _places_checked(
        self, kind: ConfigKind, key: str, model: Any, current: dict[str, Any] | None
    ) -> Any:
        """`model` if its place names and building ids may be written, else ConfigError.
        What the edit keeps as stored is not refused for it: an entity stored before these
        checks must still take a key rotation or another field's change. Its names with a
        flat or phone are cut (`Outcome.names_cut`); its building ids are kept."""
        stored: Any = None
        if current is not None:
            try:
                stored, _ = parse(kind, current)
            except ValidationError:
                stored = None
        was = dict(place_names(stored))
        names = dict(place_names(model))
        bad = place_name_errors(model)
        if new := [(path, why) for path, why in bad if was.get(path, "") != names[path]]:
            where = "; ".join(f"{path} ({why})" for path, why in new)
            raise ConfigError(new[0][1], f"{key}: {where}: {PLACE_NAME_ONLY}")
        kept = {(path, building_id) for path, _, building_id in building_refs(stored)}
        if wrong := building_id_errors(
            model,
            lambda c: self.communities.get(c) or self.view.community(c),
            skip=lambda path, building_id: (path, building_id) in kept,
        ):
            where = "; ".join(f"{path} ({code}: {why})" for path, code, why in wrong)
            raise ConfigError(wrong[0][1], f"{key}: {where}")
        if bad:
            paths = [path for path, _ in bad]
            self.outcome.names_cut[key] = paths
            log.warning("config %s: stored place names %s held a flat or phone: cut", key, paths)
            return cut_place_names(model, set(paths))
        return model

    @staticmethod
    def _normalised(kind: ConfigKind, state: dict[str, Any]) -> dict[str, Any]:
        try:
            model, owner = parse(kind, state)
        except ValidationError:
            return state
        if isinstance(model, EndpointConfig):
            return endpoint_state(model, owner)
        normal: dict[str, Any] = plain(model)
        return normal

    @staticmethod
    def communities_of(kind: ConfigKind, state: dict[str, Any]) -> tuple[str, ...]:
        if kind is ConfigKind.COMMUNITY:
            return (str(state["community_id"]),)
        if kind is ConfigKind.BOT:
            return tuple(sorted(state.get("communities") or ()))
        owner = state.get("community_id")
        return (str(owner),) if owner else ()

    # ---------------------------------------------------------------- edits
    def community(self, doc: dict[str, Any]) -> None:
        plan = doc.get("plan")
        if plan is not None and str(plan) not in PLAN_SETS:
            raise ConfigError(
                "unknown_plan",
                f"unknown plan {plan!r}; known plans: {', '.join(sorted(PLAN_SETS))}",
            )
        self._record(ConfigKind.COMMUNITY, str(doc.get("community_id", "")), doc)

    def bot(self, bot: dict[str, Any], default_community: str | None = None) -> None:
        bot_id = str(bot.get("bot_id", ""))
        current = self.view.raw_state(ConfigKind.BOT, bot_id) or {}
        state = dict(bot)
        if default_community is not None:
            state["communities"] = sorted({*state.get("communities", ()), default_community})
        if "secrets" not in state:
            if current.get("secrets"):
                state["secrets"] = current["secrets"]
            elif not state.get("platform"):
                secret = new_secret()
                state["secrets"] = [secret]
                self.outcome.new_secrets[f"bot/{bot_id}"] = secret
        self._record(ConfigKind.BOT, bot_id, state)

    def endpoint(self, endpoint: dict[str, Any], owner: str | None) -> None:
        name = str(endpoint.get("name", ""))
        current = self.view.raw_state(ConfigKind.ENDPOINT, name) or {}
        state = {**endpoint, "community_id": owner}
        for secret_field in ("secret", "token"):
            if state.get(secret_field) is None and current.get(secret_field) is not None:
                state[secret_field] = current[secret_field]
        if state.get("kind") == "webhook" and state.get("secret") is None:
            state["secret"] = new_secret()
            self.outcome.new_secrets[f"endpoint/{name}"] = state["secret"]
        self._record(ConfigKind.ENDPOINT, name, state)
        self._still_reached(name)

    def document(self, community_id: str, doc: dict[str, Any]) -> None:
        """A whole community: its own settings, its bots and its push endpoints."""
        doc = dict(doc)
        bots = doc.pop("bots", []) or []
        endpoints = doc.pop("push_endpoints", []) or []
        doc.setdefault("community_id", community_id)
        if doc["community_id"] != community_id:
            raise ConfigError("wrong_community", "the document is for another community")
        if not isinstance(bots, list) or not isinstance(endpoints, list):
            raise ConfigError("invalid", "bots and push_endpoints are lists")
        stored = self._stored_community(community_id)
        self.community(doc)
        community = self.communities[community_id] = CommunityConfig.model_validate(doc)
        for endpoint in endpoints:
            self.endpoint(dict(endpoint), community_id)
        for bot in bots:
            self.bot(dict(bot), community_id)
        # Contacts the edit keeps exactly as stored are not refused (a community stored
        # before these checks must still take a hotline or plan change): new or changed ones.
        skip = kept(community, stored)
        if names := name_problems(community, skip):
            where = "; ".join(f"{path} ({code})" for path, code in names)
            raise ConfigError(
                names[0][1], f"community/{community_id}: {where}: {CONTACT_NAME_ONLY}"
            )
        # A contact the whistle could never reach is refused here, not dropped at the
        # whistle (audit s43 F2): its endpoint as this edit leaves it, and its area.
        if problems := endpoint_problems(community, self._endpoint_after, skip):
            raise ConfigError(problems[0][0], "; ".join(why for _, why in problems))
        if areas := area_problems(community, self._group_areas(community_id), skip):
            raise ConfigError("unknown_area", "; ".join(areas))

    def _stored_community(self, community_id: str) -> CommunityConfig | None:
        state = self.view.raw_state(ConfigKind.COMMUNITY, community_id)
        try:
            return None if state is None else CommunityConfig.model_validate(state)
        except ValidationError:
            return None

    def _group_areas(self, community_id: str) -> list[GroupArea]:
        """The places of the community's bot groups once this edit is applied."""
        bots = dict(self.view.bots().bots)
        for kind, bot_id, state in self.outcome.touched:
            if kind is ConfigKind.BOT:
                bots.pop(bot_id, None)
                model = None if state is None else parse(kind, state)[0]
                if isinstance(model, BotConfig):
                    bots[bot_id] = model
        return [
            (
                p.grid_id,
                p.compound_id,
                frozenset(b for b in (p.building_id, *p.buildings.values()) if b),
            )
            for bot in bots.values()
            for p in bot.groups.values()
            if p.community_id == community_id
        ]

    def rotate_bot(self, bot_id: str, secret: str | None) -> None:
        """New current secret; the old one stays, verifying only, until removed."""
        state = self._existing_bot(bot_id)
        secrets = list(state.get("secrets") or [])
        if len(secrets) >= 2:
            raise ConfigError(
                "previous_secret_left",
                "a previous secret still verifies: remove it first (it may still be in use)",
            )
        fresh = secret or new_secret()
        if secret is None:
            self.outcome.new_secrets[f"bot/{bot_id}"] = fresh
        state["secrets"] = [fresh, *secrets]
        self._record(ConfigKind.BOT, bot_id, state)

    def drop_previous_secrets(self, bot_id: str) -> None:
        state = self._existing_bot(bot_id)
        state["secrets"] = list(state.get("secrets") or [])[:1]
        self._record(ConfigKind.BOT, bot_id, state)

    def remove(self, kind: ConfigKind, entity_id: str) -> None:
        if self.view.raw_state(kind, entity_id) is None:
            raise ConfigError("not_found", f"no {kind.value} {entity_id!r}")
        self._record(kind, entity_id, None)
        if kind is ConfigKind.ENDPOINT:
            self._still_reached(entity_id)

    def _endpoint_after(self, name: str) -> tuple[bool, str | None]:
        """Whether endpoint `name` exists once this edit is applied, and its owner."""
        for kind, entity_id, state in reversed(self.outcome.touched):
            if kind is ConfigKind.ENDPOINT and entity_id == name:
                return state is not None, None if state is None else state.get("community_id")
        return name in self.view.endpoints, self.view.endpoint_owner(name)

    def _still_reached(self, name: str) -> None:
        """Refuse removing or re-owning an endpoint that a community's whistle contact
        reaches through (audit s43 F2: the whistle silently skipped that contact). One that
        did not reach it before (a configuration written before this check) may change."""
        communities = {c.community_id: c for c in self.view.communities()} | self.communities
        for community, contact in users(list(communities.values()), name):
            was = name in self.view.endpoints and reaches(
                lambda n: (True, self.view.endpoint_owner(n)), name, community.community_id
            )
            if was and not reaches(self._endpoint_after, name, community.community_id):
                raise ConfigError(
                    "endpoint_in_use",
                    f"endpoint/{name} is how community {community.community_id!r} reaches its "
                    f"whistle {who(contact)}: change or remove that contact first",
                    community=community.community_id,
                    unnamed=f"endpoint/{name} is how a community reaches a whistle contact: "
                    "its staff must change or remove that contact first",
                )

    def _existing_bot(self, bot_id: str) -> dict[str, Any]:
        state = self.view.raw_state(ConfigKind.BOT, bot_id)
        if state is None:
            raise ConfigError("not_found", f"no bot {bot_id!r}")
        return state
