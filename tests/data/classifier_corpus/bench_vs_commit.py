"""Time `classify` here and at another commit, side by side, in one run.

    .venv/bin/python tests/data/classifier_corpus/bench_vs_commit.py 89ed6a7 --rounds 5

The other commit's tree is exported with `git archive` to a temporary folder; the two trees
then take turns (baseline, current, baseline, …) running `python -m dispatcher classify
bench` with the same interpreter and arguments, so both see the same machine load. Prints
thread-CPU p50/p99 per round and the median of the rounds, per message length.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _bench(tree: Path, args: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "dispatcher", "classify", "bench", *args, "--json"],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out)["classify_cpu"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", help="git commit to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=10, help="passes per bench run")
    parser.add_argument("--file", default="tests/data/classifier_corpus/train.jsonl")
    parser.add_argument("--widths", default="0,500", help="0 = the corpus messages as they are")
    args = parser.parse_args()
    corpus = str(ROOT / args.file)
    with tempfile.TemporaryDirectory(prefix="classify-baseline-") as tmp:
        archive = Path(tmp) / "tree.tar"
        subprocess.run(["git", "archive", "-o", str(archive), args.baseline], cwd=ROOT, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(Path(tmp) / "tree", filter="data")
        trees = {"baseline": Path(tmp) / "tree", "current": ROOT}
        for width in (int(w) for w in args.widths.split(",")):
            bench_args = [corpus, "--repeat", str(args.repeat), "--concat-to", str(width)]
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            print(f"messages {'as written' if width == 0 else f'joined to ≤{width} chars'}")
            for round_ in range(1, args.rounds + 1):
                for name, tree in trees.items():
                    runs[name].append(_bench(tree, bench_args))
                line = "  ".join(
                    f"{n} p50 {r[-1]['p50_us']:7.1f} p99 {r[-1]['p99_us']:7.1f}"
                    for n, r in runs.items()
                )
                print(f"  round {round_}: {line}  (µs, thread CPU)")
            medians = {
                n: {k: statistics.median(r[k] for r in rs) for k in ("p50_us", "p99_us")}
                for n, rs in runs.items()
            }
            print(
                "  median of rounds: "
                + "  ".join(
                    f"{n} p50 {m['p50_us']:.1f} p99 {m['p99_us']:.1f}" for n, m in medians.items()
                )
                + f"  → p50 ×{medians['baseline']['p50_us'] / medians['current']['p50_us']:.2f}"
                + f", p99 ×{medians['baseline']['p99_us'] / medians['current']['p99_us']:.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
