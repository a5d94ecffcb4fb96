"""A helper's personal link for a new phone (session 39): the welcome's link acts only on the
browser that opened it first (dispatcher/api/offer_binding.py `check_personal`), and the
welcome is sent once. When a helper changes phone (or cleared their browser, or their link
passed its year), staff run

    python -m dispatcher personal-link --community C --helper H            # a new link
    python -m dispatcher personal-link --community C --helper H --release  # same link

The first prints a new personal link (signed with this shell's DISPATCH_LINK_SECRET: run it
with the API's settings) for staff to send to the helper privately, never into a group: the
phone that opens it first is bound, and the older link stops (it says a newer one replaced
it). `--release` frees the binding instead: the helper's own link binds the next phone that
opens it (their chat history moved to the new phone). A helper staff deactivated gets
neither. Prints JSON; exit 1 when the helper is not on the roster.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from dispatcher.clock import utcnow
from dispatcher.links import helper_link
from dispatcher.record.connect import PG_FAILURES, connect, pg_failure
from dispatcher.record.edge import helper_link_bindings
from dispatcher.record.read import helpers as read_helpers
from dispatcher.settings import Settings, get_settings


async def run(
    settings: Settings, community_id: str, helper_id: str, release: bool
) -> dict[str, object]:
    conn = await connect(settings.pg_dsn.get_secret_value())
    try:
        active = await read_helpers.is_active(conn, community_id, helper_id)
        if not active:
            return {"error": "not_on_roster" if active is None else "inactive"}
        if release:
            freed = await helper_link_bindings.release(conn, community_id, helper_id)
            return {"released": freed}
        url = helper_link(settings, helper_id=helper_id, community_id=community_id, now=utcnow())
        return {"personal_url": url, "send": "privately to the helper, never into a group"}
    finally:
        await conn.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher personal-link",
        description="A helper's personal link for a new phone: a new link, or --release.",
    )
    parser.add_argument("--community", required=True, help="community id")
    parser.add_argument("--helper", required=True, help="helper id")
    parser.add_argument(
        "--release", action="store_true", help="free the binding; print no new link"
    )
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(run(get_settings(), args.community, args.helper, args.release))
    except PG_FAILURES as exc:  # one line, the password masked; exit 2 / 1 as every command
        return pg_failure("personal-link", exc)
    print(json.dumps(result, ensure_ascii=False))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
