"""Bot credentials and what each bot may do: its communities, its groups, its rate limits.

Bots are live configuration (dispatcher/config: `python -m dispatcher config set-bot`, the
staff API); the JSON file named by `DISPATCH_BOTS_FILE` only bootstraps it (dev mode: a
layer under the store; production: the seed of an empty store). Example:

    {"bots": [{
        "bot_id": "wecom-tuqiang",
        "secrets": ["whsec_<base64 key>", "whsec_<next key during rotation>"],
        "communities": ["siming-xian"],
        "groups": {"grid-1-group": {"community_id": "siming-xian", "grid_id": "g1",
                   "compound_id": "tuqiang", "compound_name": "图强小区",
                   "buildings": {"3": "b3"}}},
        "rate_per_minute": 60, "burst": 20, "group_rate_per_minute": 20, "group_burst": 10,
        "emergency_rate_per_minute": 120, "emergency_burst": 60
    }]}

Outside dev mode the file may name no bot whose callbacks nobody signs: a Feishu bot needs
its `encrypt_key` (`unsigned_platform`); the process that loads the file stops, naming it.

Without the file, and only in dev mode (`DISPATCH_MODE=dev`, `make run`) while
`link_secret` is still the dev default, dev bots are configured in `dev-community` and the
demo district's groups: see `dispatcher/groupchat/dev_bots.py`. Never in production.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from dispatcher.push.endpoints import EndpointConfig
from dispatcher.push.signing import webhook_secret_bytes
from dispatcher.settings import Settings
from schemas.places import PlacePath

log = logging.getLogger(__name__)

BOTS_FILE_ENV = "DISPATCH_BOTS_FILE"
DEV_LINK_SECRET = "dev-only-link-secret-change-me"  # Settings' default: marks a dev install
DEV_BOT_SECRET = "whsec_" + base64.b64encode(b"dev-only-bot-secret-change-me").decode()

_ID = r"^[A-Za-z0-9_.:@-]{1,128}$"


class GroupPlace(BaseModel):
    """Where a chat group lives on the org ladder; a building hint in a message refines it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    community_id: str = Field(min_length=1, max_length=64)
    grid_id: str | None = Field(default=None, max_length=64)
    compound_id: str | None = Field(default=None, max_length=64)
    compound_name: str | None = Field(default=None, max_length=64)
    building_id: str | None = Field(default=None, max_length=64)  # a building's own group
    building_name: str | None = Field(default=None, max_length=64)
    buildings: dict[str, str] = Field(default_factory=dict)  # hint "3" → building id


DINGTALK_SESSION_PREFIX = "https://oapi.dingtalk.com/robot/sendBySession"


class PlatformConfig(BaseModel):
    """A bot that is a WeCom / DingTalk / Feishu robot calling /v1/platforms/{kind}/{bot_id}
    (see dispatcher/api/platforms/). Only the fields of its kind are used."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["wecom", "dingtalk", "feishu"]
    token: SecretStr | None = None  # WeCom: Token
    encoding_aes_key: SecretStr | None = None  # WeCom: EncodingAESKey (43 characters)
    receive_id: str = ""  # WeCom: the CorpID for an app; "" for a smart robot
    app_secret: SecretStr | None = None  # DingTalk: the robot's AppSecret
    # DingTalk: a sessionWebhook is used only under these prefixes (it comes in a request).
    session_webhook_prefixes: tuple[str, ...] = (DINGTALK_SESSION_PREFIX,)
    verification_token: SecretStr | None = None  # Feishu: Verification Token
    # Feishu: Encrypt Key. Required outside dev mode (`unsigned_platform`): without it Feishu
    # signs nothing and the Verification Token travels in every body.
    encrypt_key: SecretStr | None = None
    # Feishu: with the app's id (and app_secret above) the group hears back through the
    # reply API (im/v1/messages/{id}/reply) instead of a group robot.
    app_id: str | None = Field(default=None, max_length=64)
    api_base: str = "https://open.feishu.cn"

    @model_validator(mode="after")
    def _credentials(self) -> PlatformConfig:
        needed = {
            "wecom": ("token", "encoding_aes_key"),
            "dingtalk": ("app_secret",),
            "feishu": ("verification_token",),
        }[self.kind]
        for name in needed:
            if getattr(self, name) is None:
                raise ValueError(f"a {self.kind} platform needs {name}")
        return self


class MemberLink(BaseModel):
    """A chat sender the community knows: their helper id and/or household (结对 pairing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    helper_id: str | None = Field(default=None, max_length=64)
    household_id: str | None = Field(default=None, max_length=64)


class BotConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bot_id: str = Field(pattern=_ID)
    # Up to two active secrets: the old and the new one during a rotation. A platform bot
    # (below) may have none: it authenticates with its platform's own scheme.
    secrets: tuple[SecretStr, ...] = Field(default=(), max_length=2)
    platform: PlatformConfig | None = None
    robots: dict[str, EndpointConfig] = Field(default_factory=dict)  # group id → reply robot
    members: dict[str, MemberLink] = Field(default_factory=dict)  # sender id → who they are
    communities: frozenset[str] = frozenset()  # empty: may act nowhere (yet)
    groups: dict[str, GroupPlace] = Field(default_factory=dict)
    rate_per_minute: float = Field(default=60, gt=0)
    burst: float = Field(default=20, ge=1)
    group_rate_per_minute: float = Field(default=20, gt=0)
    group_burst: float = Field(default=10, ge=1)
    # Life-threatening messages skip the two limits above (chatter must never delay them)
    # and draw from this allowance instead (taken as at least the bot's own limit): it only
    # bounds the fake emergencies a compromised bot could raise. Beyond it the requester is
    # still told to call 120/110/119, but nobody is dispatched.
    emergency_rate_per_minute: float = Field(default=120, gt=0)
    emergency_burst: float = Field(default=60, ge=1)
    # Cancel/resolve requests other bots (or staff) submitted in its communities.
    may_close_others: bool = False

    @field_validator("secrets")
    @classmethod
    def _decodable(cls, secrets: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for s in secrets:
            secret_key(s)  # raises ValueError on a bad whsec_ value
        return secrets

    @model_validator(mode="after")
    def _some_credential(self) -> BotConfig:
        if not self.secrets and self.platform is None:
            raise ValueError("a bot needs secrets or a platform")
        return self

    @model_validator(mode="after")
    def _groups_in_communities(self) -> BotConfig:
        for group_id, place in self.groups.items():
            if place.community_id not in self.communities:
                raise ValueError(f"group {group_id!r} is outside the bot's communities")
        return self

    def keys(self) -> list[bytes]:
        return [secret_key(s) for s in self.secrets]

    def may_act_in(self, community_id: str) -> bool:
        return community_id in self.communities


class UnsignedPlatformBot(ValueError):
    """A bots file names a platform bot whose callbacks nobody signs (outside dev mode)."""


def unsigned_platform(bot: BotConfig) -> str | None:
    """Why `bot`'s callbacks cannot be trusted outside dev mode (its field and why, never a
    value), or None. A Feishu app without an Encrypt Key signs nothing and puts its
    Verification Token in every body: whoever has seen one callback can forge its events
    (a requester's "不用了" cancelling their request, a fake emergency)."""
    platform = bot.platform
    if platform is None or platform.kind != "feishu":
        return None
    if platform.encrypt_key is not None and platform.encrypt_key.get_secret_value():
        return None
    return (
        "platform.encrypt_key is missing: a Feishu app without an Encrypt Key signs nothing, "
        "and whoever has seen one of its callbacks can forge its events"
    )


def secret_key(secret: SecretStr) -> bytes:
    """The key of a Standard Webhooks secret, `whsec_` + base64 of the key: the only form a
    bot signing with a Standard Webhooks library reads as we do."""
    try:
        key = webhook_secret_bytes(secret.get_secret_value())
    except ValueError as exc:
        raise ValueError(f"a bot secret {exc}") from None
    if len(key) < 16:
        raise ValueError("a bot secret needs at least 16 bytes")
    return key


class BotRegistry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bots: dict[str, BotConfig] = Field(default_factory=dict)

    def get(self, bot_id: str) -> BotConfig | None:
        return self.bots.get(bot_id)

    def group_place(self, bot_id: str, group_id: str) -> GroupPlace | None:
        """Where a bot's group lives (None: no such bot or group, or no longer)."""
        bot = self.bots.get(bot_id)
        return bot.groups.get(group_id) if bot is not None else None

    @classmethod
    def from_list(cls, bots: list[BotConfig]) -> BotRegistry:
        ids = [b.bot_id for b in bots]
        if len(set(ids)) != len(ids):
            raise ValueError("two bots share a bot_id")
        return cls(bots={b.bot_id: b for b in bots})


class _BotsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bots: list[BotConfig]


DEV_BOT = BotConfig(
    bot_id="dev-bot",
    secrets=(SecretStr(DEV_BOT_SECRET),),
    communities=frozenset({"dev-community"}),
    groups={
        "dev-group": GroupPlace(
            community_id="dev-community",
            grid_id="g1",
            compound_id="c1",
            compound_name="图强小区",
        )
    },
)


def load_registry(settings: Settings, path: str | None = None) -> BotRegistry:
    """The configured bots. A bad file fails start-up loudly rather than running open."""
    if path is None and settings.bots_file is not None:
        path = str(settings.bots_file)
    if path:
        doc = _BotsFile.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
        _refuse_unsigned(settings, doc.bots)
        return BotRegistry.from_list(doc.bots)
    if settings.mode == "dev" and settings.link_secret.get_secret_value() == DEV_LINK_SECRET:
        from dispatcher.groupchat.dev_bots import dev_bots  # imports this module

        log.warning(
            "no %s: using the dev-only bots 'dev-bot', 'dev-wecom', 'dev-dingtalk', "
            "'dev-feishu' in the demo district's groups (never in production)",
            BOTS_FILE_ENV,
        )
        return BotRegistry.from_list(dev_bots())
    log.warning("no %s: bots come from the configuration store only", BOTS_FILE_ENV)
    return BotRegistry()


def _refuse_unsigned(settings: Settings, bots: list[BotConfig]) -> None:
    """Outside dev mode a bot nobody signs stops the process that loads the file, named by
    bot and field (never a secret); in dev mode it loads, with a warning."""
    unsigned = [f"{BOTS_FILE_ENV}[{b.bot_id}].{why}" for b in bots if (why := unsigned_platform(b))]
    if unsigned and settings.mode != "dev":
        raise UnsignedPlatformBot(
            "; ".join(unsigned) + ": set the app's Encrypt Key (Feishu developer console, "
            "事件与回调 > 加密策略) as the bot's platform encrypt_key, or run a dev machine "
            "with DISPATCH_MODE=dev"
        )
    for line in unsigned:
        log.warning("dev mode: %s (refused outside dev mode)", line)


_NUMBER_OR_LETTER = re.compile(r"^(?:[0-9]{1,4}|[A-Z])$")  # "3号楼" → "3", "A座" → "A"


def building_id_for(place: GroupPlace, hint: str | None) -> str | None:
    """A building hint ("3") → the building id helpers are registered with.

    The group's own map wins; otherwise the convention shared with the roster import:
    "b" + the number or letter ("3号楼" → "b3", "A座" → "bA"; `dispatcher.roster.places`).
    """
    if place.building_id is not None:
        return place.building_id
    if hint is None:
        return None
    if hint in place.buildings:
        return place.buildings[hint]
    return f"b{hint}" if _NUMBER_OR_LETTER.match(hint) else None


_BUILDING_LABEL = re.compile(r"(.+)号楼")


def place_of_label(place: GroupPlace, building_label: str) -> PlacePath:
    """The place of a request raised in the group at `place`, down to its building, from
    the request's public label (`PlacePath.building_label`, in its events): a building hint
    in the message ("3号楼") made `dispatcher.api.chat_spec.place_for` name the building
    "3号楼" (the label "图强小区 3号楼") and give it `building_id_for`'s id, which this finds
    again. A label it cannot read leaves the building unknown (None): only what covers the
    group's own grid and compound is then said to cover the request."""
    building = place.building_id
    if building is None:
        head = place.compound_name or place.compound_id
        tail = building_label.removeprefix(f"{head} ") if head else building_label
        hint = _BUILDING_LABEL.fullmatch(tail)
        building = building_id_for(place, hint[1]) if hint else None
    return PlacePath(
        community_id=place.community_id,
        grid_id=place.grid_id,
        compound_id=place.compound_id,
        building_id=building,
    )
