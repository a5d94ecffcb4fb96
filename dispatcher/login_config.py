"""What an operator configures for each chat platform's in-app login (a list in Settings,
`DISPATCH_PLATFORM_LOGINS`, one entry per platform application). Base URLs are settings so
tests aim them at a local fake that answers like the platform."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

LoginKind = Literal["wecom", "dingtalk", "feishu"]

# (authorize page, API, legacy API) per platform, as documented by each.
DEFAULT_BASES: dict[str, tuple[str, str, str]] = {
    "wecom": ("https://open.weixin.qq.com", "https://qyapi.weixin.qq.com", ""),
    "dingtalk": (
        "https://login.dingtalk.com",
        "https://api.dingtalk.com",
        "https://oapi.dingtalk.com",
    ),
    "feishu": ("https://accounts.feishu.cn", "https://open.feishu.cn", ""),
}


class PlatformLoginConfig(BaseModel):
    """One platform application that logs helpers in.

    - wecom: `app_id` = CorpID, `app_secret` = the self-built app's Secret, `agent_id` its
      AgentId; the app's trusted domain must be the host of `DISPATCH_PUBLIC_BASE_URL`.
    - dingtalk: `app_id` = the app's Client ID (AppKey), `app_secret` = Client Secret.
    - feishu: `app_id` = App ID (cli_…), `app_secret` = App Secret; the redirect URL
      `<public base>/l/login/feishu/callback` must be registered with the app.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: LoginKind
    # Communities whose rosters' platform user ids (平台账号) are ids on this platform.
    communities: frozenset[str] = Field(min_length=1)
    app_id: str = Field(min_length=1, max_length=128)
    app_secret: SecretStr
    agent_id: str | None = Field(default=None, max_length=32)
    authorize_base: str | None = None  # None: the platform's own (DEFAULT_BASES)
    api_base: str | None = None
    legacy_api_base: str | None = None  # DingTalk's oapi host

    def bases(self) -> tuple[str, str, str]:
        default = DEFAULT_BASES[self.kind]
        return (
            (self.authorize_base or default[0]).rstrip("/"),
            (self.api_base or default[1]).rstrip("/"),
            (self.legacy_api_base or default[2]).rstrip("/"),
        )
