"""One PostgreSQL connection for a command-line tool, and the one line it prints when that
fails: exit 2 when DISPATCH_PG_DSN cannot be used as written (a configuration error), 1 when
PostgreSQL cannot be reached or refuses. Never a traceback, never the password."""

from __future__ import annotations

import re
import sys
from urllib.parse import parse_qs, unquote

import asyncpg

CONFIG_EXIT = 2
UNREACHABLE_EXIT = 1


class DsnError(Exception):
    """DISPATCH_PG_DSN is not a usable PostgreSQL DSN; the text names why, password masked."""


# What asyncpg raises on a DSN it cannot use: ClientConfigurationError (a ValueError: bad
# scheme, sslmode, …), ValueError (a port that is not a number, a broken IPv6 host) and
# OverflowError (a port past 65535, found only when it connects).
_DSN_ERRORS = (ValueError, OverflowError)
# What `pg_failure` explains: the above, and what a usable DSN can still meet (nobody
# listening, a wrong password, no such database, a connection lost).
PG_FAILURES = (DsnError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def connect(dsn: str, *, timeout: float = 10) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn, timeout=timeout)
    except _DSN_ERRORS as exc:
        # `from None`: the chained error's traceback would show the DSN in asyncpg's frames.
        raise DsnError(mask_secrets(str(exc), dsn)) from None


def pg_failure(tool: str, exc: BaseException) -> int:
    """Print `exc` (one of PG_FAILURES) as one line on stderr; the exit code to return."""
    if isinstance(exc, DsnError):
        print(f"{tool}: DISPATCH_PG_DSN is not a usable PostgreSQL DSN: {exc}", file=sys.stderr)
        return CONFIG_EXIT
    print(f"{tool}: cannot read PostgreSQL: {type(exc).__name__}: {exc}", file=sys.stderr)
    return UNREACHABLE_EXIT


def mask_secrets(text: str, dsn: str) -> str:
    """`text` with every piece of `dsn` that may be a password replaced by ***. asyncpg
    echoes the part it choked on, and in a malformed DSN that can be the password (in
    `postgresql://u:secret/x@h` it reads `secret` as the port)."""
    for secret in sorted(_secret_candidates(dsn), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _secret_candidates(dsn: str) -> set[str]:
    rest = dsn.partition("://")[2] or dsn
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, hostport = netloc.rpartition("@")
    # No "@": whatever follows a ":" may be a password asyncpg took for the port.
    found = {userinfo.partition(":")[2]} if at else {hostport.partition(":")[2]}
    found.update(parse_qs(rest.partition("?")[2]).get("password", []))
    return {v for s in found if s for v in (s, unquote(s))}
