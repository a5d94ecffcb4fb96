"""Endpoint configuration: which hosts we may call, with which credentials.

URLs come only from here (admin configuration); a delivery names an endpoint. Credentials
are `SecretStr` so reprs and logs show `**********`, and base URLs may not carry a query
or user-info, so a credential cannot hide in a field that is logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dispatcher.push.signing import webhook_secret_bytes


class EndpointKind(StrEnum):
    WEBHOOK = "webhook"  # generic Standard Webhooks push relay (self-hosted)
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉自定义机器人
    FEISHU = "feishu"  # 飞书自定义机器人


GROUP_KINDS: frozenset[EndpointKind] = frozenset(
    {EndpointKind.WECOM, EndpointKind.DINGTALK, EndpointKind.FEISHU}
)

# Default public base URLs; tests and private deployments override `url`.
DEFAULT_URLS: dict[EndpointKind, str] = {
    EndpointKind.WECOM: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
    EndpointKind.DINGTALK: "https://oapi.dingtalk.com/robot/send",
    EndpointKind.FEISHU: "https://open.feishu.cn/open-apis/bot/v2/hook/",
}


class EndpointConfig(BaseModel):
    """One push endpoint.

    - webhook: `url` is the receiver, `secret` the signing key, "whsec_<base64>".
    - wecom: `url` is .../cgi-bin/webhook/send, `token` the robot key.
    - dingtalk: `url` is .../robot/send, `token` the access_token, `secret` the optional
      signing secret ("SEC...").
    - feishu: `url` is .../bot/v2/hook/ (the token is appended), `secret` optional.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=64)
    kind: EndpointKind
    url: HttpUrl
    token: SecretStr | None = None
    secret: SecretStr | None = None
    # Group robots allow ~20 messages/minute: 15/min + burst 5 keeps any 60 s window <= 20.
    rate_per_minute: float | None = Field(default=None, gt=0)
    burst: int | None = Field(default=None, ge=1)
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    concurrency: int = Field(default=4, ge=1, le=64)  # sends in flight to this endpoint
    # Group robots: how long the first message of a merged @-message waits for the rest of
    # its wave. Webhooks with batch_max > 1: the least time between two batches' POSTs
    # unless a full batch is queued (the first after a quiet window goes at once, a wave's
    # offers being queued together; set it small, e.g. 0.005: a relay has no per-minute
    # limit to save).
    batch_window_seconds: float = Field(default=0.3, ge=0, le=10)
    # Webhook only: up to this many queued deliveries go out in one signed POST
    # ("push.batch", one entry per delivery). 1 = one POST per delivery, the default, for
    # relays that do not read batches. A batch is what queued within the window or while
    # the endpoint's slots were busy, so it also grows with the load.
    batch_max: int = Field(default=1, ge=1, le=100)
    message_format: Literal["text", "markdown"] = "text"  # WeCom markdown: no @-lists

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.url.query or self.url.username or self.url.password:
            raise ValueError("url must not carry a query or user-info: put credentials in token")
        needs_token = self.kind in GROUP_KINDS
        if needs_token and (self.token is None or not self.token.get_secret_value()):
            raise ValueError(f"{self.kind} endpoint needs token")
        if self.kind is EndpointKind.WEBHOOK and (
            self.secret is None or not self.secret.get_secret_value()
        ):
            raise ValueError("webhook endpoint needs a signing secret")
        if self.batch_max > 1 and self.kind is not EndpointKind.WEBHOOK:
            raise ValueError("batch_max is for webhook endpoints (robots merge per wave)")
        return self

    @field_validator("secret")
    @classmethod
    def _standard_webhooks_secret(
        cls, secret: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        # A receiver verifies with a Standard Webhooks library, which reads only "whsec_"
        # + base64: any other form would sign with a key it never computes.
        if secret is None or info.data.get("kind") is not EndpointKind.WEBHOOK:
            return secret
        try:
            webhook_secret_bytes(secret.get_secret_value())
        except ValueError as exc:
            raise ValueError(f"webhook endpoint {info.data.get('name')!r}: secret {exc}") from None
        return secret

    @property
    def is_group(self) -> bool:
        return self.kind in GROUP_KINDS

    def effective_rate(self) -> tuple[float, int] | None:
        """(rate per minute, burst), defaulting to the conservative robot limit."""
        rate = self.rate_per_minute
        if rate is None and self.is_group:
            rate = 15.0
        if rate is None:
            return None
        default_burst = 5 if self.is_group else max(1, int(rate))
        burst = self.burst if self.burst is not None else default_burst
        return rate, burst


class UnknownEndpointError(LookupError):
    pass


class EndpointRegistry:
    """Admin-configured endpoints by name: the only source of outbound URLs."""

    def __init__(self, endpoints: Iterable[EndpointConfig] = ()) -> None:
        self._by_name: dict[str, EndpointConfig] = {}
        for endpoint in endpoints:
            self.add(endpoint)

    def add(self, endpoint: EndpointConfig) -> None:
        if endpoint.name in self._by_name:
            raise ValueError(f"duplicate endpoint name {endpoint.name!r}")
        self._by_name[endpoint.name] = endpoint

    def replace(self, endpoints: Iterable[EndpointConfig]) -> None:
        """Swap in a new set (live configuration, dispatcher/config): lanes pick up a
        changed endpoint at their next send."""
        fresh = EndpointRegistry(endpoints)
        self._by_name = fresh._by_name

    def get(self, name: str) -> EndpointConfig:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownEndpointError(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[EndpointConfig]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)
