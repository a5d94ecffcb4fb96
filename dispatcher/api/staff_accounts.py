"""Staff accounts: one per person, scoped to communities, revocable, every use audited.

`DISPATCH_STAFF_FILE` names a JSON file (re-read when it changes, so revoking needs no
restart). It holds token hashes, never tokens:

    {"staff": [{"name": "li.wei", "token_sha256": "<hex of sha256(token)>",
                "communities": ["siming-xian"], "revoked": false},
               {"name": "district-ops", "token_sha256": "...", "communities": ["*"]}]}

`DISPATCH_STAFF_TOKEN` remains one district-wide account named `staff-token` (break-glass;
refused when empty, and in production when weak). Each authenticated staff request is
written to the `staff_audit` table (who, when, method, route, community).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from dispatcher.settings import Settings

log = logging.getLogger(__name__)
ALL = "*"
TOKEN_ACCOUNT = "staff-token"


class StaffAccount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    communities: frozenset[str] = Field(min_length=1)
    revoked: bool = False

    @property
    def district_wide(self) -> bool:
        return ALL in self.communities

    def may_act_in(self, community_id: str) -> bool:
        return self.district_wide or community_id in self.communities


class _StaffFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff: list[StaffAccount]


class SharedStaffToken(ValueError):
    """Two staff accounts (or one and `DISPATCH_STAFF_TOKEN`) with one token hash."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class StaffDirectory:
    settings: Settings
    _accounts: list[StaffAccount] = field(default_factory=list)
    _mtime: tuple[int, int] | None = None

    def load(self) -> None:
        """Read the staff file if it changed since the last read."""
        path = self.settings.staff_file
        if path is None:
            return
        stat = Path(path).stat()
        mtime = (stat.st_mtime_ns, stat.st_size)
        if mtime == self._mtime:
            return
        doc = _StaffFile.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
        names = [a.name for a in doc.staff]
        if len(set(names)) != len(names) or TOKEN_ACCOUNT in names:
            raise ValueError(f"staff names must be unique and not {TOKEN_ACCOUNT!r}")
        self._refuse_shared_tokens(doc.staff)
        self._accounts, self._mtime = doc.staff, mtime
        log.info(
            "staff accounts loaded: %d (%d revoked)", len(names), sum(a.revoked for a in doc.staff)
        )

    def _refuse_shared_tokens(self, staff: list[StaffAccount]) -> None:
        """One token, one account: a hash copied into a second entry would sign in as
        whichever came last (`by_token`), maybe another community's. Revoked entries count
        too (un-revoking one would bring the clash back), and so does the built-in
        `DISPATCH_STAFF_TOKEN`. Names the accounts, never the hash."""
        token = self.settings.staff_token.get_secret_value()
        seen = {token_hash(token): TOKEN_ACCOUNT} if token else {}
        for account in staff:
            first = seen.setdefault(account.token_sha256, account.name)
            if first != account.name:
                raise SharedStaffToken(
                    f"staff accounts {first!r} and {account.name!r} have the same token:"
                    " give each account its own"
                )

    def accounts(self) -> list[StaffAccount]:
        try:
            self.load()
        except SharedStaffToken as exc:
            # Its text names the two accounts only: the one to fix.
            log.error("staff file refused (%s): no staff can sign in", exc)
            self._mtime = None
            return []
        except (OSError, ValueError) as exc:
            # Fail closed: a broken edit (perhaps a revocation) must not leave old tokens in.
            log.error("staff file unreadable (%s): no staff can sign in", type(exc).__name__)
            self._mtime = None
            return []
        token = self.settings.staff_token.get_secret_value()
        built_in = (
            [
                StaffAccount(
                    name=TOKEN_ACCOUNT, token_sha256=token_hash(token), communities=frozenset({ALL})
                )
            ]
            if token
            else []
        )
        return built_in + [a for a in self._accounts if not a.revoked]

    def by_token(self, candidate: str) -> StaffAccount | None:
        """The live account whose token this is. Every account is compared (no early exit)."""
        if not candidate:
            return None
        digest = token_hash(candidate).encode()
        found = None
        for account in self.accounts():
            if hmac.compare_digest(digest, account.token_sha256.encode()):
                found = account
        return found

    def by_name(self, name: str) -> StaffAccount | None:
        return next((a for a in self.accounts() if a.name == name), None)
