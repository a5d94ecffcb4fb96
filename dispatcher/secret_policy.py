"""Refuse to run in production with a default, empty, short or guessable secret.

Production is the default mode; `DISPATCH_MODE=dev` (set by `make run`, the test harness and
the demo) is the only way to run with the built-in development secrets. Checked once at the
start of every long-running process (`api`, `worker`), before anything listens.
"""

from __future__ import annotations

import sys
from collections import Counter
from urllib.parse import urlsplit

from pydantic import SecretStr

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
_DEFAULT_MARKERS = ("change-me", "changeme", "dev-only", "dev-staff", "example")


def secret_problem(value: str) -> str | None:
    """Why `value` cannot be a production secret, or None when it can."""
    if not value.strip():
        return "is empty"
    lowered = value.strip().lower()
    if lowered in KNOWN_DEFAULTS or any(m in lowered for m in _DEFAULT_MARKERS):
        return "is a known default"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    # 32 random bytes, written as hex or base64, show many distinct characters and no
    # character dominating; "aaaa…" or "abababab…" do not.
    counts = Counter(value)
    if len(counts) < 12 or counts.most_common(1)[0][1] > len(value) // 4:
        return "does not look random (python -c 'import secrets; print(secrets.token_hex(32))')"
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
    for ep in settings.push_endpoints:
        for field in ("token", "secret"):
            value = getattr(ep, field)
            if value is not None:
                named.append(
                    (f"DISPATCH_PUSH_ENDPOINTS[{ep.name}].{field}", value.get_secret_value())
                )
    return named


def production_problems(settings: Settings) -> list[str]:
    """Every secret setting that is not fit for production, named as it is set."""
    problems = []
    for name, secret in _named_secrets(settings):
        why = secret_problem(secret.get_secret_value())
        if why:
            problems.append(f"{name} {why}")
    for name, value in _issued_elsewhere(settings):
        why = placeholder_problem(value)
        if why:
            problems.append(f"{name} {why}")
    return problems


def enforce(settings: Settings, process: str) -> None:
    """Exit at once (status 78, EX_CONFIG) when production runs with unfit secrets."""
    if settings.mode == "dev":
        return
    problems = production_problems(settings)
    if problems:
        lines = [f"refusing to start {process} in production mode:"]
        lines += [f"  {p}" for p in problems]
        lines.append("set each to at least 32 random bytes, or DISPATCH_MODE=dev on a dev machine")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(78)
