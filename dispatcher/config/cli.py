"""`python -m dispatcher config ...`: the configuration through the staff API.

The CLI is a client of the API (the one place that checks a staff account's scope, writes
the `config` topic and audits), so it needs the API's URL (`--api`, default
DISPATCH_PUBLIC_BASE_URL) and a staff token (`--token`, before or after the command; default
$DISPATCH_CONFIG_TOKEN, else DISPATCH_STAFF_TOKEN). A group robot's key is
`set-endpoint --robot-token`. Secrets created by a call are printed once, to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from dispatcher.clock import utcnow
from dispatcher.config import readiness_check
from dispatcher.push.signing import standard_webhook_signature
from dispatcher.settings import get_settings

PREFIX = "/v1/admin/config"


def _load(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".yaml", ".yml"}:
        import yaml  # type: ignore[import-untyped]  # only for YAML files

        doc = yaml.safe_load(text)
    else:
        doc = json.loads(text)
    if not isinstance(doc, dict):
        raise SystemExit(f"{path}: a community document is an object (mapping)")
    return doc


def _group(spec: str, community: str) -> tuple[str, dict[str, str]]:
    """GROUP_ID[=grid[/compound[/building]]] → its place in `community`."""
    group_id, _, where = spec.partition("=")
    place: dict[str, str] = {"community_id": community}
    for name, value in zip(
        ("grid_id", "compound_id", "building_id"), where.split("/"), strict=False
    ):
        if value:
            place[name] = value
    return group_id, place


class Client:
    def __init__(self, api: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=api.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def call(self, method: str, path: str, body: Any = None) -> Any:
        r = self.http.request(method, PREFIX + path, json=body)
        try:
            answer = r.json()
        except ValueError:
            answer = {"status": r.status_code, "body": r.text[:500]}
        if r.status_code >= 400:
            print(json.dumps(answer, ensure_ascii=False, indent=2), file=sys.stderr)
            raise SystemExit(1)
        if r.status_code == 202:
            print("written; not yet visible in the API (it will be shortly)", file=sys.stderr)
        return answer


def _bot_doc(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    """The bot as configured now (without its secrets, which stay), changed by the flags."""
    current = client.call("GET", f"/communities/{args.community}")
    bot = next((b for b in current["bots"] if b["bot_id"] == args.bot_id), None) or {
        "bot_id": args.bot_id
    }
    bot.pop("secrets", None)
    if bot.get("platform") or bot.get("robots"):
        raise SystemExit("a platform bot's credentials: use `config apply` with a document")
    bot["communities"] = sorted({*bot.get("communities", []), args.community})
    groups = dict(bot.get("groups") or {})
    for spec in args.group or []:
        group_id, place = _group(spec, args.community)
        groups[group_id] = place
    bot["groups"] = groups
    if args.secret:
        bot["secrets"] = [args.secret]
    if args.rate_per_minute:
        bot["rate_per_minute"] = args.rate_per_minute
    return bot


def _keep_secret(answer: Any, path: Path | None) -> Any:
    """With --secret-file, a secret this call created goes to that file (0600), not stdout."""
    if path is None or not answer.get("new_secrets"):
        return answer
    [secret] = answer["new_secrets"].values()
    path.touch(mode=0o600)
    path.write_text(secret + "\n", encoding="utf-8")
    answer["new_secrets"] = {k: f"written to {path}" for k in answer["new_secrets"]}
    return answer


def _community_settings(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    """The community's current document with the settings given changed (the rest kept:
    the API replaces a community's own fields with what it is sent)."""
    current = client.call("GET", f"/communities/{args.community_id}").get("community")
    if current is None and args.display_name is None:
        raise SystemExit(f"no community {args.community_id!r}: give --display-name to create it")
    doc: dict[str, Any] = dict(current or {"community_id": args.community_id})
    if args.display_name is not None:
        doc["display_name"] = args.display_name
    if args.plan is not None:
        doc["plan"] = args.plan
    if args.time_zone is not None:
        doc["time_zone"] = args.time_zone
    if args.quiet_hours is not None:
        if args.quiet_hours == "none":
            doc.pop("quiet_hours", None)
        else:
            start, sep, end = args.quiet_hours.partition("-")
            if not sep:
                raise SystemExit("--quiet-hours: HH:MM-HH:MM (e.g. 22:00-07:00) or none")
            doc["quiet_hours"] = {"start": start.strip(), "end": end.strip()}
    if args.hotline is not None:
        pairs = [h.partition("=") for h in args.hotline]
        if any(not sep for _, sep, _ in pairs):
            raise SystemExit("--hotline: LABEL=NUMBER (e.g. 社区值班=0592-5550101)")
        doc["hotlines"] = [{"label": a, "number": b} for a, _, b in pairs]
    return doc


def _send_test(api: str, bot_id: str, group: str, secret: str, text: str) -> Any:
    """A chat message as the bot sends it: signed (Standard Webhooks) over the bound payload
    "POST /v1/messages\n" + body."""
    now = utcnow()
    body = json.dumps(
        {
            "group_id": group,
            "message_id": f"onboarding-{now.timestamp():.6f}",
            "sender": {"id": "onboarding", "name": "onboarding"},
            "text": text,
        },
        ensure_ascii=False,
    ).encode()
    msg_id = f"msg_{now.timestamp():.6f}"
    ts = int(now.timestamp())
    signature = standard_webhook_signature(secret, msg_id, ts, b"POST /v1/messages\n" + body)
    headers = {
        "content-type": "application/json",
        "x-bot-id": bot_id,
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature,
    }
    r = httpx.post(api.rstrip("/") + "/v1/messages", content=body, headers=headers, timeout=30)
    if r.status_code >= 300:
        print(r.text[:500], file=sys.stderr)
        raise SystemExit(1)
    return r.json()


def _check(api: str) -> int:
    """`/readyz` needs no token: a deploy job can run this without a staff account."""
    try:
        r = httpx.get(api.rstrip("/") + "/readyz", timeout=30)
    except httpx.HTTPError as exc:
        print(f"the API at {api} did not answer: {type(exc).__name__}: {exc}", file=sys.stderr)
        return readiness_check.NOT_READY
    try:
        body: Any = r.json()
    except ValueError:
        body = None
    code, lines = readiness_check.verdict(r.status_code, body)
    for line in lines:
        print(line, file=sys.stdout if code == readiness_check.OK else sys.stderr)
    return code


def main(argv: list[str]) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m dispatcher config", description=__doc__)
    parser.add_argument("--api", default=settings.public_base_url, help="the API's base URL")
    token_help = "staff token (default $DISPATCH_CONFIG_TOKEN, else DISPATCH_STAFF_TOKEN)"
    parser.add_argument("--token", help=token_help)
    # The staff token (always the staff bearer, never sent in a body: a robot's key is
    # `--robot-token`) and --api are accepted after the command too (`config show --token T`).
    # SUPPRESS: a command without them keeps those given before the command.
    staff = argparse.ArgumentParser(add_help=False)
    staff.add_argument("--token", default=argparse.SUPPRESS, help=token_help)
    staff.add_argument("--api", default=argparse.SUPPRESS, help="the API's base URL")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[staff])

    p = command("apply", help="upsert a whole community document (YAML or JSON)")
    p.add_argument("file", type=Path)
    p = command("show", help="a community (or everything: district-wide staff)")
    p.add_argument("--community")
    p = command("set-bot", help="create or change a signed bot")
    p.add_argument("bot_id")
    p.add_argument("--community", required=True)
    p.add_argument("--group", action="append", help="GROUP_ID[=grid[/compound[/building]]]")
    p.add_argument("--secret", help="its secret (default: kept, or 32 random bytes if new)")
    p.add_argument("--secret-file", type=Path, help="write a new secret here (0600), not stdout")
    p.add_argument("--rate-per-minute", type=float)
    p = command("rotate-bot", help="a new secret; the old one verifies until removed")
    p.add_argument("bot_id")
    p.add_argument("--secret", help="the new secret (default: 32 random bytes, printed)")
    p.add_argument("--secret-file", type=Path, help="write the new secret here (0600)")
    p = command("drop-previous", help="stop accepting a bot's previous secret")
    p.add_argument("bot_id")
    p = command("set-endpoint", help="create or change a push endpoint")
    p.add_argument("name")
    p.add_argument("--kind", required=True, choices=["webhook", "wecom", "dingtalk", "feishu"])
    p.add_argument("--url", required=True)
    p.add_argument("--community", help="the owning community (none: district-wide)")
    p.add_argument("--secret", help="webhook signing secret (default: kept, or generated)")
    p.add_argument(
        "--robot-token", dest="robot_token", help="a group robot's key (WeCom/DingTalk/Feishu)"
    )
    p.add_argument("--batch-max", type=int)
    p.add_argument("--concurrency", type=int, help="sends in flight at once (live)")
    p = command(
        "set-community", help="change a community's plan, quiet hours, time zone or hotlines"
    )
    p.add_argument("community_id")
    p.add_argument("--display-name")
    p.add_argument("--plan", help="an escalation plan set: standard, small_compound")
    p.add_argument("--quiet-hours", help="HH:MM-HH:MM in the community's time, or 'none'")
    p.add_argument("--time-zone", help="IANA zone of the community (default Asia/Shanghai)")
    p.add_argument(
        "--hotline", action="append", help="LABEL=NUMBER (replaces the list; repeat for more)"
    )
    p = command("remove", help="remove a community's settings, a bot or an endpoint")
    p.add_argument("kind", choices=["community", "bot", "endpoint"])
    p.add_argument("id")
    p = command("send-test", help="post a signed chat message as a bot (try it out)")
    p.add_argument("bot_id")
    p.add_argument("text")
    p.add_argument("--group", required=True)
    p.add_argument("--secret-file", type=Path, required=True, help="the bot's secret")
    p = command("history", help="who changed what, when")
    p.add_argument("--community")
    p.add_argument("--limit", type=int, default=50)
    p = sub.add_parser(  # reads /readyz: no staff token
        "check", help="exit 1 if the API holds bots it does not serve, 2 if it is not ready"
    )
    p.add_argument("--api", default=argparse.SUPPRESS, help="the API's base URL")
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args.api)

    token = (
        args.token
        or os.environ.get("DISPATCH_CONFIG_TOKEN")
        or settings.staff_token.get_secret_value()
    )
    client = Client(args.api, token)
    answer: Any
    if args.command == "apply":
        doc = _load(args.file)
        community = doc.get("community_id")
        if not isinstance(community, str):
            raise SystemExit(f"{args.file}: community_id missing")
        answer = client.call("PUT", f"/communities/{community}", doc)
    elif args.command == "show":
        answer = client.call("GET", f"/communities/{args.community}" if args.community else "")
    elif args.command == "set-bot":
        answer = client.call("PUT", f"/bots/{args.bot_id}", _bot_doc(client, args))
        answer = _keep_secret(answer, args.secret_file)
    elif args.command == "rotate-bot":
        answer = client.call("POST", f"/bots/{args.bot_id}/rotate", {"secret": args.secret})
        answer = _keep_secret(answer, args.secret_file)
    elif args.command == "drop-previous":
        answer = client.call("DELETE", f"/bots/{args.bot_id}/previous-secrets")
    elif args.command == "set-endpoint":
        body: dict[str, Any] = {"kind": args.kind, "url": args.url, "community_id": args.community}
        if args.secret:
            body["secret"] = args.secret
        if args.robot_token:
            body["token"] = args.robot_token
        if args.batch_max:
            body["batch_max"] = args.batch_max
        if args.concurrency:
            body["concurrency"] = args.concurrency
        answer = client.call("PUT", f"/endpoints/{args.name}", body)
    elif args.command == "set-community":
        answer = client.call(
            "PUT", f"/communities/{args.community_id}", _community_settings(client, args)
        )
    elif args.command == "remove":
        plural = {"community": "communities", "bot": "bots", "endpoint": "endpoints"}[args.kind]
        answer = client.call("DELETE", f"/{plural}/{args.id}")
    elif args.command == "send-test":
        secret = args.secret_file.read_text(encoding="utf-8").strip()
        answer = _send_test(args.api, args.bot_id, args.group, secret, args.text)
    else:
        query = f"?limit={args.limit}" + (
            f"&community_id={args.community}" if args.community else ""
        )
        answer = client.call("GET", f"/history{query}")
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0
