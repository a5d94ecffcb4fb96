"""`python -m dispatcher bench classify [--compare REV]`: time `classify` per message.

Messages: every corpus message (tests/data/classifier_corpus), the same messages run
together into ones of up to 500 characters, and one of 100,000 characters, reported by
length bucket (≤50, 51–100, 101–200, 201–500, 100 KB). Each call is timed twice: thread
CPU time (`time.thread_time_ns`: only this thread's work, what the message costs) and wall
time (`time.perf_counter_ns`: also the waits for a CPU on a shared machine). "best" is each
message's cheapest call over all rounds (on a loaded machine other processes slow every
call down a little, e.g. by sharing a core; the cheapest call is the least disturbed).

With `--compare REV`, the classifier of git revision REV runs in a second child process
beside this checkout's; both run *this* file's timing loop, first prove whether they
answer alike (a hash per message), then take turns round by round (alternating which goes
first), so the shared machine's load falls on both alike. Prints numbers; asserts none.

This file is also the child: it is loaded by path with a tree's packages first on the
path, so it imports only the standard library and, inside functions, `classify`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUCKETS = ((50, "1-50"), (100, "51-100"), (200, "101-200"), (500, "201-500"))
LONG = "100k"


def _bucket(text: str) -> str | None:
    if len(text) >= 100_000:
        return LONG
    return next((name for top, name in BUCKETS if len(text) <= top), None)


STAGES = ("normalise", "red_flags", "rules", "floor")


def _stage_timer() -> Callable[[str], tuple[int, ...] | None] | None:
    """`classify`'s steps one at a time, each timed (thread CPU ns, in STAGES order); None
    when this tree's classifier is not made of these steps, and a call answers None when the
    steps' answer is not `classify`'s (the tree's `classify` has changed since)."""
    try:
        from dispatcher.classify import MAX_CHARS, RULES_CHARS, classify
        from dispatcher.classify.hanzi import detect_script
        from dispatcher.classify.normalise import normalise
        from dispatcher.classify.rules import classify_normalised
        from dispatcher.classify.safety import apply_floor, red_flags
    except ImportError:
        return None
    cpu = time.thread_time_ns

    def timed(text: str) -> tuple[int, ...] | None:
        t0 = cpu()
        raw = text[:MAX_CHARS]
        folded = normalise(raw)
        t1 = cpu()
        flags = red_flags(folded)
        t2 = cpu()
        shared = flags if len(folded) <= RULES_CHARS else None
        script = detect_script(raw[:RULES_CHARS])
        rules = classify_normalised(folded[:RULES_CHARS], script, shared)
        t3 = cpu()
        answer = apply_floor(folded, rules, flags)
        t4 = cpu()
        if answer != classify(text):
            return None
        return (t1 - t0, t2 - t1, t3 - t2, t4 - t3)

    return timed


def serve() -> None:
    """Child: answer one JSON request per line on stdin with one JSON line on stdout."""
    from dispatcher.classify import classify

    for line in sys.stdin:
        msg = json.loads(line)
        texts: list[str] = msg["texts"]
        if msg["op"] == "digest":
            answers = [classify(t).model_dump_json() for t in texts]
            out: Any = [hashlib.sha256(a.encode()).hexdigest()[:16] for a in answers]
        elif msg["op"] == "stages":
            timer = _stage_timer()
            out = None if timer is None else [timer(t) for t in texts * msg["repeat"]]
            out = None if out is None or None in out else out
        else:
            out = []
            cpu, wall = time.thread_time_ns, time.perf_counter_ns
            for _ in range(msg["repeat"]):
                for text in texts:
                    c0, w0 = cpu(), wall()
                    classify(text)
                    out.append((cpu() - c0, wall() - w0))
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


def _summary(per_message: list[list[tuple[int, int]]]) -> dict[str, float]:
    """p50/p99/max over every call (CPU, wall), and over each message's cheapest call
    ("best": what the message costs with the least interference from other processes)."""
    from dispatcher.stats import nearest_rank

    calls = [call for message in per_message for call in message]
    columns = {
        "cpu": [c[0] / 1000 for c in calls],
        "wall": [c[1] / 1000 for c in calls],
        "cpu_best": [min(c[0] for c in message) / 1000 for message in per_message],
    }
    row: dict[str, float] = {"calls": len(calls)}
    for kind, values in columns.items():
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            row[f"{kind}_{name}_us"] = round(nearest_rank(values, q), 1)
        row[f"{kind}_max_us"] = round(max(values), 1)
    return row


def _stage_summary(calls: list[list[int]]) -> dict[str, float]:
    """p50/p99 of each step's thread CPU time (µs) over the calls."""
    from dispatcher.stats import nearest_rank

    row: dict[str, float] = {}
    for k, stage in enumerate(STAGES):
        values = [call[k] / 1000 for call in calls]
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            row[f"{stage}_{name}_us"] = round(nearest_rank(values, q), 1)
    return row


def run(
    compare: str | None, rounds: int, repeat: int, limit: int = 0, stages: bool = False
) -> dict[str, Any]:
    import tempfile

    from dispatcher.bench.match_compare import _ROOT, Child, extract, resolve
    from dispatcher.classify.decisions import corpus_texts

    texts = corpus_texts(_ROOT / "tests" / "data" / "classifier_corpus")
    buckets: dict[str, list[str]] = {name: [] for _, name in BUCKETS} | {LONG: []}
    for text in texts:
        name = _bucket(text)
        if name is not None and (limit <= 0 or len(buckets[name]) < limit):
            buckets[name].append(text)
    texts = [text for group in buckets.values() for text in group]
    here = Path(__file__).resolve()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        sides = {"current": _ROOT}
        base_rev = resolve(compare) if compare else None
        if base_rev:
            sides = {"baseline": extract(base_rev, Path(tmp)), **sides}
        children = {name: Child(name, root, here) for name, root in sides.items()}
        try:
            digests = {n: c.ask(op="digest", texts=texts) for n, c in children.items()}
            samples: dict[str, dict[str, list[list[tuple[int, int]]]]] = {
                n: {b: [[] for _ in g] for b, g in buckets.items()} for n in children
            }
            order = list(children)
            for round_ in range(rounds):
                print(f"round {round_ + 1}/{rounds}…", file=sys.stderr, flush=True)
                for name in order if round_ % 2 == 0 else order[::-1]:
                    for bucket, group in buckets.items():
                        times = children[name].ask(
                            op="time", texts=group, repeat=1 if bucket == LONG else repeat
                        )
                        for k, (cpu, wall) in enumerate(times):
                            samples[name][bucket][k % len(group)].append((cpu, wall))
            steps: dict[str, dict[str, Any]] = {}
            for name in children if stages else ():
                steps[name] = {}
                for bucket, group in buckets.items():
                    passes = 1 if bucket == LONG else repeat
                    got = children[name].ask(op="stages", texts=group, repeat=passes)
                    steps[name][bucket] = None if got is None else _stage_summary(got)
        finally:
            for child in children.values():
                child.close()
    report: dict[str, Any] = {
        "messages": {b: len(g) for b, g in buckets.items()},
        "rounds": rounds,
        "repeat": repeat,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "current": {b: _summary(s) for b, s in samples["current"].items()},
    }
    if stages:
        report["stages"] = steps
    if base_rev:
        differ = sum(a != b for a, b in zip(digests["baseline"], digests["current"], strict=True))
        report["baseline_rev"] = base_rev
        report["baseline"] = {b: _summary(s) for b, s in samples["baseline"].items()}
        report["answers_differing_from_baseline"] = differ
    return report


def print_text(report: dict[str, Any]) -> None:
    print(
        f"load average {report['loadavg_before']} → {report['loadavg_after']}; "
        f"{report['rounds']} rounds × {report['repeat']} passes (100k: 1 pass a round)"
    )
    if "baseline" in report:
        print(
            f"baseline {report['baseline_rev'][:9]}: "
            f"{report['answers_differing_from_baseline']} of "
            f"{sum(report['messages'].values())} answers differ from the current tree"
        )
    head = "cpu p50/p99/max µs   wall p50/p99/max µs   cpu best-of-calls p50/p99/max µs"
    print(f"{'bucket':<8} {'msgs':>5} {'tree':<9} {head}")
    for bucket, count in report["messages"].items():
        for side in ("baseline", "current"):
            if side not in report:
                continue
            r = report[side][bucket]
            cpu, wall, best = (
                f"{r[f'{k}_p50_us']:.0f}/{r[f'{k}_p99_us']:.0f}/{r[f'{k}_max_us']:.0f}"
                for k in ("cpu", "wall", "cpu_best")
            )
            print(f"{bucket:<8} {count:>5} {side:<9} {cpu:<20} {wall:<21} {best}")
    if "stages" in report:
        print("thread CPU per step, p50/p99 µs: " + "   ".join(STAGES))
        for bucket in report["messages"]:
            for side, by_bucket in report["stages"].items():
                row = by_bucket[bucket]
                cells = (
                    ["(not made of these steps)"]
                    if row is None
                    else [f"{row[f'{st}_p50_us']:.0f}/{row[f'{st}_p99_us']:.0f}" for st in STAGES]
                )
                print(f"{bucket:<8} {side:<9} " + "   ".join(cells))


def main(
    compare: str | None, rounds: int, repeat: int, limit: int, as_json: bool, stages: bool = False
) -> int:
    report = run(compare, max(1, rounds), max(1, repeat), limit, stages)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print_text(report)
    return 0


if __name__ == "__main__":  # pragma: no cover - the child side, started by `run`
    serve()
