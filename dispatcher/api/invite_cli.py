"""`python -m dispatcher invite --community C [--compound ID --compound-name 名称] [--hours 72]`:
print a self-registration link (the staff API's `POST /v1/staff/communities/{c}/invites`,
for an operator at the command line). Signed with this shell's DISPATCH_LINK_SECRET, so
run it with the API's settings."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

from dispatcher.api.invites import invite_token, invite_url
from dispatcher.api.registrations import MAX_VALID
from dispatcher.clock import utcnow
from dispatcher.settings import get_settings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher invite",
        description="Print a signed, expiring self-registration link (握手行动).",
    )
    parser.add_argument("--community", required=True, help="community id")
    parser.add_argument("--compound", help="compound id (else the resident names it)")
    parser.add_argument("--compound-name", help="its display name, e.g. 图强小区")
    parser.add_argument("--grid", help="grid id")
    parser.add_argument("--hours", type=float, default=72.0, help="valid for (default 72)")
    args = parser.parse_args(argv)
    if not 0 < args.hours <= MAX_VALID.total_seconds() / 3600:
        parser.error(f"--hours must be within (0, {MAX_VALID.total_seconds() / 3600:g}]")
    settings = get_settings()
    expires_at = utcnow() + timedelta(hours=args.hours)
    try:
        token = invite_token(
            settings,
            community_id=args.community,
            expires_at=expires_at,
            compound_id=args.compound,
            compound_name=args.compound_name,
            grid_id=args.grid,
        )
    except ValueError as exc:  # a compound name holding a flat or phone: never quoted back
        parser.error(f"{exc} (a name only, e.g. 图强小区)")
    print(json.dumps({"url": invite_url(settings, token), "expires_at": expires_at.isoformat()}))
    return 0
