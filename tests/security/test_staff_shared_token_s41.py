"""A staff token hash copied into a second account (an admin adding zhao for community B by
copying li's entry and forgetting to change the hash). Before: the staff file loaded (only
names were checked unique) and `by_token` answered the last match, so li's token signed in
as zhao: li could act in community B and no longer in A, every action audited as zhao. Now
the file is refused, naming both accounts (never the hash or the token): at start-up the
API does not start, and edited under a running API no staff token signs in (fail closed, as
for any broken staff file) until the file is fixed."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from dispatcher.api.staff_accounts import SharedStaffToken, StaffDirectory, token_hash
from dispatcher.settings import Settings
from dispatcher.testing.stack import LocalStack
from tests.support import builders
from tests.support.staff import bearer

LI = secrets.token_urlsafe(32)
WANG = secrets.token_urlsafe(32)
BREAK_GLASS = secrets.token_urlsafe(32)


def account(name: str, token: str, community: str, revoked: bool = False) -> dict[str, object]:
    return {
        "name": name,
        "token_sha256": token_hash(token),
        "communities": [community],
        "revoked": revoked,
    }


def write(path: Path, *accounts: dict[str, object]) -> None:
    path.write_text(json.dumps({"staff": list(accounts)}))


# zhao's entry: li's copied, the name and community changed, the hash not.
ZHAO = account("zhao", LI, "sec-b")


def directory(path: Path) -> StaffDirectory:
    return StaffDirectory(Settings(staff_file=path, staff_token=SecretStr(BREAK_GLASS)))


@pytest.mark.parametrize("zhao_revoked", [False, True])
def test_a_shared_hash_is_refused_at_load_naming_both(tmp_path: Path, zhao_revoked: bool) -> None:
    path = tmp_path / "staff.json"
    write(path, account("li", LI, "sec-a"), {**ZHAO, "revoked": zhao_revoked})
    staff = directory(path)
    with pytest.raises(SharedStaffToken) as refused:
        staff.load()
    said = str(refused.value)
    assert "'li'" in said and "'zhao'" in said, said
    assert token_hash(LI) not in said and LI not in said, said
    # Asked at sign-in: nobody (the file is refused as a whole), never zhao.
    assert staff.by_token(LI) is None
    assert staff.accounts() == []


def test_a_file_account_with_the_break_glass_token_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "staff.json"
    write(path, account("li", LI, "sec-a"), account("wang", BREAK_GLASS, "sec-b"))
    with pytest.raises(SharedStaffToken, match="'staff-token' and 'wang'"):
        directory(path).load()


async def test_a_copied_hash_cannot_sign_in_as_the_other_account(stack: LocalStack) -> None:
    staff_file = stack.root / "staff.json"
    stack.extra_env = {"DISPATCH_STAFF_FILE": str(staff_file)}
    # At start-up: the API refuses to start, saying which accounts.
    write(staff_file, account("li", LI, "sec-a"), ZHAO)
    with pytest.raises(RuntimeError) as died:
        await stack.start_api()
    said = str(died.value)
    assert "staff accounts 'li' and 'zhao' have the same token" in said, said
    assert token_hash(LI) not in said and LI not in said, said

    write(staff_file, account("li", LI, "sec-a"), account("wang", WANG, "sec-b"))
    await stack.start_api()
    theirs = builders.helper("b1", "sec-b", ["driving"])
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as c:

        async def put_b1(token: str) -> int:
            r = await c.put("/v1/admin/helpers/b1", json=theirs, headers=bearer(token))
            return r.status_code

        assert await put_b1(LI) == 403  # li is community A's
        # Edited while the API runs: zhao added with li's hash.
        write(staff_file, account("li", LI, "sec-a"), account("wang", WANG, "sec-b"), ZHAO)
        assert await put_b1(LI) == 401  # before: 202, li acting in B as zhao
        assert await put_b1(WANG) == 401  # the whole file is refused, as any broken edit
        # Fixed: each account its own token again.
        write(staff_file, account("li", LI, "sec-a"), account("wang", WANG, "sec-b"))
        assert await put_b1(LI) == 403
        assert await put_b1(WANG) == 202
    conn = await asyncpg.connect(stack.pg_dsn)
    try:
        actors = {r["staff"] for r in await conn.fetch("SELECT staff FROM staff_audit")}
    finally:
        await conn.close()
    assert "zhao" not in actors, actors
    log = (stack.root / "api.log").read_text(errors="replace")
    assert "staff file refused (staff accounts 'li' and 'zhao' have the same token" in log
    assert token_hash(LI) not in log and LI not in log
