"""The roster's platform accounts, kept for the answer page's login (/l/me): after the
platform names a user, which helper of the community that is. Written when staff upsert a
helper or import a ledger (the same moment the UpsertHelper commands are queued), and
only while the helper is on the roster: an inactive profile's account is forgotten."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dispatcher.api.platform_login import tokens
from dispatcher.record.db import Db
from dispatcher.record.edge import platform_accounts
from dispatcher.settings import Settings
from schemas.helpers import HelperProfile


async def remember(
    db: Db, settings: Settings, community_id: str, profiles: Sequence[HelperProfile], now: datetime
) -> None:
    accounts = [
        (
            p.helper_id,
            tokens.account_hashes(settings, community_id, p.platform_user_id)[0]
            if p.platform_user_id and p.active
            else None,
        )
        for p in profiles
    ]
    await platform_accounts.remember(db, community_id, accounts, now)


async def helpers_for(db: Db, settings: Settings, community_id: str, user_id: str) -> list[str]:
    """The community's active helpers whose roster row names this platform user."""
    hashes = tokens.account_hashes(settings, community_id, user_id)
    return await platform_accounts.helpers_for(db, community_id, hashes)
