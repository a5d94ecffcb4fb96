"""Refuse to run in production with a default, empty, short or guessable secret, or with
offer links no helper can open.

Production is the default mode; `DISPATCH_MODE=dev` (set by `make run`, the test harness and
the demo) is the only way to run with the built-in development secrets and the loopback
base URL. Checked once at the start of every long-running process (`api`, `worker`), before
anything listens. The bots file and DISPATCH_PUSH_ENDPOINTS, which seed the live
configuration, are held to the rules of `config apply` (dispatcher/config/secrets.py).
"""

from __future__ import annotations

import ipaddress
import sys
from collections import Counter
from urllib.parse import urlsplit

from pydantic import SecretStr

from dispatcher.push.signing import webhook_secret_bytes
from dispatcher.settings import Settings

MIN_SECRET_BYTES = 32
# Values shipped in this repository's code, docs and examples: never acceptable in production.
KNOWN_DEFAULTS = frozenset(
    {
        "dev-only-link-secret-change-me",
        "dev-staff-token",
        "dev-only-helper-id-key-change-me",
        "dev-only-metrics-token",
        "dev-only-contact-key-change-me",
        "change-me",
        "change-me-long-random",
        "changeme",
        "secret",
        "password",
    }
)
_DEFAULT_MARKERS = (
    "change-me",
    "changeme",
    "dev-only",
    "dev-staff",
    "example",
    "replace-me",
    "replace+me",
    "replaceme",
)


def _is_placeholder(text: str) -> bool:
    lowered = text.strip().lower()
    return lowered in KNOWN_DEFAULTS or any(m in lowered for m in _DEFAULT_MARKERS)


def _looks_random(symbols: str | bytes) -> bool:
    # 32 random bytes, raw or written as hex or base64, show many distinct symbols and none
    # dominating; "aaaa…" or "abababab…" do not.
    counts = Counter(symbols)
    return len(counts) >= 12 and counts.most_common(1)[0][1] <= len(symbols) // 4


def secret_problem(value: str) -> str | None:
    """Why `value` cannot be a production secret, or None when it can."""
    if not value.strip():
        return "is empty"
    if _is_placeholder(value):
        return "is a known default"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    if not _looks_random(value):
        return "does not look random (python -c 'import secrets; print(secrets.token_hex(32))')"
    return None


def signing_secret_problem(value: str) -> str | None:
    """For a signing key we choose (a bot's, a webhook relay's): "whsec_" + base64 only, as
    Standard Webhooks libraries read it, judged as the key it decodes to, so base64 of a
    placeholder is a placeholder."""
    if _is_placeholder(value):
        return "is a known default"
    try:
        key = webhook_secret_bytes(value)
    except ValueError as exc:
        return str(exc)
    if _is_placeholder(key.decode("latin-1")):
        return "decodes to a known default"
    if len(key) < MIN_SECRET_BYTES:
        return f"decodes to fewer than {MIN_SECRET_BYTES} bytes"
    if not _looks_random(key):
        return "decodes to a key that does not look random"
    return None


def _named_secrets(settings: Settings) -> list[tuple[str, SecretStr]]:
    named: list[tuple[str, SecretStr]] = [
        ("DISPATCH_LINK_SECRET", settings.link_secret),
        ("DISPATCH_STAFF_TOKEN", settings.staff_token),
        ("DISPATCH_HELPER_ID_KEY", settings.helper_id_key),
        ("DISPATCH_METRICS_TOKEN", settings.metrics_token),
    ]
    named += [
        (f"DISPATCH_LINK_SECRETS_PREVIOUS[{i}]", s)
        for i, s in enumerate(settings.link_secrets_previous)
    ]
    named.append(("DISPATCH_CONTACT_KEY", settings.contact_key))
    named += [
        (f"DISPATCH_CONTACT_KEYS_PREVIOUS[{i}]", s)
        for i, s in enumerate(settings.contact_keys_previous)
    ]
    return named


def placeholder_problem(value: str) -> str | None:
    """For credentials issued by others (a database password, a robot's key): their length
    is not ours to choose, but an empty value or a placeholder is never real."""
    lowered = value.strip().lower()
    if not lowered:
        return "is empty"
    if lowered in KNOWN_DEFAULTS or any(m in lowered for m in _DEFAULT_MARKERS):
        return "is a placeholder"
    return None


def _issued_elsewhere(settings: Settings) -> list[tuple[str, str]]:
    named = []
    password = urlsplit(settings.pg_dsn.get_secret_value()).password
    if password is not None:  # no password: peer/certificate authentication, fine
        named.append(("DISPATCH_PG_DSN's password", password))
    if settings.kafka_sasl_password is not None:  # issued by the Strimzi user operator
        named.append(
            ("DISPATCH_KAFKA_SASL_PASSWORD", settings.kafka_sasl_password.get_secret_value())
        )
    for login in settings.platform_logins:
        named.append(
            (
                f"DISPATCH_PLATFORM_LOGINS[{login.kind}].app_secret",
                login.app_secret.get_secret_value(),
            )
        )
    return named


def production_problems(settings: Settings) -> list[str]:
    """Every secret setting that is not fit for production, named as it is set."""
    # Imported here: the configuration's policy (config/secrets.py) builds on this module.
    from dispatcher.config.bootstrap import environment_problems

    problems = []
    for name, secret in _named_secrets(settings):
        why = secret_problem(secret.get_secret_value())
        if why:
            problems.append(f"{name} {why}")
    for name, value in _issued_elsewhere(settings):
        why = placeholder_problem(value)
        if why:
            problems.append(f"{name} {why}")
    return problems + environment_problems(settings)


# Names that never reach a helper's phone: loopback, the LAN, and the reserved
# documentation/test names (RFC 2606, RFC 6761), such as the examples' dispatch.example.org.
_UNREACHABLE_SUFFIXES = (".localhost", ".local", ".example", ".test", ".invalid")
_PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org")


def _host_problem(host: str) -> str | None:
    if not host:
        return "has no host"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None if address.is_global else f"points at {host}, a loopback or private address"
    if host == "localhost" or "." not in host or host.endswith(_UNREACHABLE_SUFFIXES):
        return f"points at {host}, a local or reserved name"
    if any(host == d or host.endswith("." + d) for d in _PLACEHOLDER_DOMAINS):
        return f"points at {host}, a placeholder"
    return None


def public_url_problems(settings: Settings) -> list[str]:
    """Why helpers could not open offer links under DISPATCH_PUBLIC_BASE_URL (on their phones,
    over the internet, without exposing the link on the way)."""
    try:
        url = urlsplit(settings.public_base_url.strip())
    except ValueError:  # "https://[::1" and the like
        return ["DISPATCH_PUBLIC_BASE_URL is not a URL"]
    problems = []
    if url.scheme != "https":
        problems.append("is not https: links would travel in clear")
    if url.username is not None or url.password is not None:
        problems.append("carries user-info: every link would show it")
    host_problem = _host_problem((url.hostname or "").rstrip("."))
    if host_problem:
        problems.append(f"{host_problem}: no helper's phone can open it")
    return [f"DISPATCH_PUBLIC_BASE_URL {p}" for p in problems]


def enforce(settings: Settings, process: str) -> None:
    """Exit at once (status 78, EX_CONFIG) when production runs with unfit secrets or a
    base URL helpers cannot open."""
    if settings.mode == "dev":
        return
    problems = production_problems(settings) + public_url_problems(settings)
    if problems:
        lines = [f"refusing to start {process} in production mode:"]
        lines += [f"  {p}" for p in problems]
        lines.append(
            "set each secret to at least 32 random bytes, DISPATCH_PUBLIC_BASE_URL to the "
            "API's public https address; or DISPATCH_MODE=dev on a dev machine"
        )
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(78)
