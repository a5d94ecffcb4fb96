"""`bench platforms`: callback received → the group's first reply, per chat platform.

Starts its own worker and API (isolated namespace, removed afterwards, as `bench e2e`),
configures one robot per platform with one chat group per message (so the first message a
group gets is the reply to that message), and offers N distinct help requests per platform
at a fixed rate as correctly signed/encrypted callbacks. A local HTTP receiver plays the
groups (WeCom/Feishu robots, DingTalk sessionWebhooks). Prints p50/p99 of the callback's
HTTP answer (the platform's deadline: Feishu 3 s, WeCom 5 s) and of the first reply.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import httpx
from pydantic import SecretStr

from dispatcher.api.platforms.sample_cli import BUILDERS
from dispatcher.api.webhook_signature import signed_headers
from dispatcher.bench.e2e_stack import BOT_ID, BOT_SECRET, bench_stack, push_to
from dispatcher.bench.e2e_stats import summarize
from dispatcher.groupchat import dev_bots as dev
from dispatcher.groupchat.bots import secret_key
from dispatcher.testing.push_receiver import PushReceiver


def first_receipts(receiver: PushReceiver) -> dict[str, float]:
    """When each path first received a request (monotonic seconds)."""
    first: dict[str, float] = {}
    for r in receiver.received:
        first.setdefault(r.path, r.at)
    return first


def _group(platform: str, i: int) -> str:
    return f"bench-{platform}-{i}"


def _place(community: str, kind: str, i: int) -> dict[str, str]:
    """A compound per group: the same building and category in one compound within 15
    minutes would be merged into one request (and answered differently)."""
    return {"community_id": community, "grid_id": "g1", "compound_id": f"c-{kind}-{i}"}


def bots_doc(receiver: PushReceiver, community: str, n: int) -> dict[str, Any]:
    platforms = {
        "wecom": {
            "kind": "wecom",
            "token": dev.DEV_WECOM_TOKEN,
            "encoding_aes_key": dev.DEV_WECOM_AES_KEY,
            "receive_id": dev.DEV_WECOM_CORP,
        },
        "dingtalk": {
            "kind": "dingtalk",
            "app_secret": dev.DEV_DINGTALK_SECRET,
            "session_webhook_prefixes": [receiver.url("/dt/")],
        },
        "feishu": {
            "kind": "feishu",
            "verification_token": dev.DEV_FEISHU_TOKEN,
            "encrypt_key": dev.DEV_FEISHU_KEY,
        },
    }
    bots = []
    for kind, platform in platforms.items():
        groups = {_group(kind, i): _place(community, kind, i) for i in range(n)}
        robots = {
            _group(kind, i): {
                "name": f"robot-{i}",
                "kind": kind,
                "url": receiver.url(f"/robot/{_group(kind, i)}/"),
                "token": "t",
            }
            for i in range(n)
            if kind != "dingtalk"
        }
        bots.append(
            {
                "bot_id": f"bench-{kind}",
                "platform": platform,
                "robots": robots,
                "communities": [community],
                "groups": groups,
                "rate_per_minute": 10_000_000,
                "burst": 1_000_000,
                "group_rate_per_minute": 10_000_000,
                "group_burst": 1_000_000,
            }
        )
    bots.append(
        {
            "bot_id": BOT_ID,
            "secrets": [BOT_SECRET],
            "communities": [community],
            "groups": {_group("generic", i): _place(community, "generic", i) for i in range(n)},
            "rate_per_minute": 10_000_000,
            "burst": 1_000_000,
            "group_rate_per_minute": 10_000_000,
            "group_burst": 1_000_000,
        }
    )
    return {"bots": bots}


def build_generic(
    text: str, group: str, sender: str, msg_id: str
) -> tuple[str, dict[str, str], bytes]:
    """The project's own signed JSON (POST /v1/messages): the baseline the adapters add to."""
    doc = {"group_id": group, "message_id": msg_id, "sender": {"id": sender}, "text": text}
    body = json.dumps(doc, ensure_ascii=False).encode()
    key = secret_key(SecretStr(BOT_SECRET))
    headers = {
        "content-type": "application/json",
        "x-bot-id": BOT_ID,
        **signed_headers([key], body),
    }
    return "/v1/messages", headers, body


def _reply_path(kind: str, group: str) -> str:
    return (
        f"/dt/{group}"
        if kind == "dingtalk"
        else f"/robot/{group}/" + ("" if kind == "wecom" else "t")
    )


async def run_platform(
    client: httpx.AsyncClient,
    receiver: PushReceiver,
    kind: str,
    n: int,
    rate: float,
    first: int = 0,
) -> dict[str, Any]:
    """Messages `first` … `first + n - 1`, each in its own group."""
    sent: dict[int, float] = {}
    answered: list[float] = []
    refused: list[str] = []

    async def one(i: int) -> None:
        i += first
        group = _group(kind, i)
        text = "3号楼有老人摔倒了起不来，快来人帮忙"
        msg_id = f"bench-{kind}-m{i}"
        if kind == "generic":
            path, headers, body = build_generic(text, group, f"resident-{i}", msg_id)
            query: dict[str, str] = {}
        else:
            path = f"/v1/platforms/{kind}/bench-{kind}"
            query, headers, body = BUILDERS[kind](text, group, f"resident-{i}", msg_id)
        if kind == "dingtalk":
            doc = json.loads(body)
            doc["sessionWebhook"] = receiver.url(f"/dt/{group}") + "?session=s"
            body = json.dumps(doc, ensure_ascii=False).encode()
        started = time.monotonic()
        sent[i - first] = started
        r = await client.post(path, params=query, headers=headers, content=body)
        answered.append(time.monotonic() - started)
        if r.status_code not in (200, 202) or not r.json().get("is_request"):
            refused.append(f"{r.status_code} {r.text[:120]}")

    t0 = time.monotonic()
    tasks = []
    for i in range(n):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    deadline = time.monotonic() + (30 if kind != "generic" else 0)  # no group reply
    paths = {i: _reply_path(kind, _group(kind, first + i)) for i in range(n)}
    first = first_receipts(receiver)
    while time.monotonic() < deadline and not all(p in first for p in paths.values()):
        await asyncio.sleep(0.1)
        first = first_receipts(receiver)
    replies = [first[p] - sent[i] for i, p in paths.items() if p in first]
    return {
        "platform": kind,
        "messages": n,
        "offered_per_s": rate,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "not_accepted": len(refused),
        "not_accepted_examples": sorted(set(refused))[:3],
        "no_reply_within_30s": n - len(replies),
        "callback_answer": summarize(answered),
        "callback_to_first_reply": summarize(replies) if kind != "generic" else None,
    }


async def _main(args: argparse.Namespace) -> int:
    receiver = await PushReceiver().start()
    community = "bench-platforms"
    stack = bench_stack(
        kafka_bootstrap="127.0.0.1:" + os.environ.get("DISPATCH_KAFKA_PORT", "19092"),
        pg_port=int(os.environ.get("DISPATCH_PG_PORT", "55432")),
        partitions=4,
        plan_time_scale=1.0,
        communities=[community],
        bot=None,  # the bots file below: one robot per platform, one group per message
    )
    push_to(stack, receiver.url("/phones"))
    results = []
    try:
        await stack.create()
        groups = args.messages + args.warmup_messages
        (stack.root / "bots.json").write_text(json.dumps(bots_doc(receiver, community, groups)))
        print("[bench] starting worker and API…", file=sys.stderr)
        stack.start_worker("worker-1")
        await stack.start_api()
        await asyncio.sleep(args.warmup)  # the group-reply consumer joins its group
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            for kind in args.platform:  # not measured: connections, caches, the worker warm up
                await run_platform(client, receiver, kind, args.warmup_messages, args.rate)
            for kind in args.platform:
                print(f"[bench] {kind}: {args.messages} messages at {args.rate}/s", file=sys.stderr)
                result = await run_platform(
                    client, receiver, kind, args.messages, args.rate, first=args.warmup_messages
                )
                results.append(result)
                if args.json:
                    print(json.dumps(result), flush=True)
                elif result["callback_to_first_reply"] is None:
                    a = result["callback_answer"]
                    print(
                        f"{kind:9} n={result['messages']} answer p50 {a['p50_ms']} ms "
                        f"p99 {a['p99_ms']} ms (baseline: no group reply on this path) | "
                        f"load {result['load_average_1m']}",
                        flush=True,
                    )
                else:
                    a, f = result["callback_answer"], result["callback_to_first_reply"]
                    print(
                        f"{kind:9} n={result['messages']} answer p50 {a['p50_ms']} ms "
                        f"p99 {a['p99_ms']} ms | first reply p50 {f['p50_ms']} ms "
                        f"p99 {f['p99_ms']} ms max {f['max_ms']} ms | "
                        f"not accepted {result['not_accepted']}, "
                        f"no reply {result['no_reply_within_30s']} | "
                        f"load {result['load_average_1m']}",
                        flush=True,
                    )
    finally:
        report = await stack.cleanup(keep_logs=args.keep_logs)
        await receiver.stop()
        print(f"[bench] cleaned up: {json.dumps(report)}", file=sys.stderr)
    replied = [r for r in results if r["platform"] != "generic"]
    return 0 if all(r["no_reply_within_30s"] == 0 for r in replied) else 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--messages", type=int, default=200, help="help requests per platform")
    p.add_argument("--rate", type=float, default=20.0, help="callbacks per second")
    p.add_argument(
        "--platform",
        action="append",
        choices=[*sorted(BUILDERS), "generic"],
        help="repeatable; default: all three, then `generic` (POST /v1/messages) as baseline",
    )
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after the API is ready")
    p.add_argument(
        "--warmup-messages", type=int, default=20, help="unmeasured messages per platform first"
    )
    p.add_argument("--keep-logs", action="store_true")
    p.add_argument("--json", action="store_true", help="one JSON object per platform")


def main(args: argparse.Namespace) -> int:
    args.platform = args.platform or [*sorted(BUILDERS), "generic"]
    return asyncio.run(_main(args))
