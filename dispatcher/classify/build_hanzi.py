"""`python -m dispatcher classify build-hanzi`: which characters OpenCC would change.

Most messages are written in simplified characters, and OpenCC then returns them as they
are; asking it costs tens of microseconds a message all the same. This command reads
OpenCC's own dictionaries (the installed package's `tw2sp` chain, dumped with its
`opencc_dict` tool) and writes `hanzi_sets.json`:

- `tw2sp_chars`: every character that is, on its own, a key `tw2sp` converts to something
  else (normalisation, Taiwan phrases/variants, traditional → simplified);
- `tw2sp_phrases`: the converted multi-character keys with none of those characters
  (滑鼠 → 鼠标, 硬碟 → 硬盘), and `tw2sp_witnesses`: one character of each, the one least
  used in the corpus's chat messages (鼠, 碟), so that few everyday messages hold one;
- `t2s_changed`, `s2t_changed`: the CJK characters (U+4E00–U+9FFF) that `t2s` / `s2t`
  change on their own, for script detection.

A text holding none of `tw2sp_chars` and none of `tw2sp_witnesses` contains no key that
converts, so every stage of the chain returns it unchanged: `to_simplified` skips OpenCC
then (one character-class search, under a microsecond for 500 characters).
`tests/unit/test_classify_hanzi_sets.py` rebuilds the file from the installed OpenCC and
checks the shortcut against OpenCC itself.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import opencc

from dispatcher.classify.hanzi import script_sets_from_opencc

SETS_PATH = Path(__file__).resolve().parent / "hanzi_sets.json"
CORPUS = Path("tests/data/classifier_corpus")
_CLIB = Path(opencc.__file__).resolve().parent / "clib"


def _dict_files(node: Any) -> Iterator[str]:
    """The dictionary files a config node names, groups included."""
    if isinstance(node, dict):
        if node.get("type") == "ocd2":
            yield node["file"]
        for value in node.values():
            yield from _dict_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dict_files(item)


def _entries(share: Path, name: str, work: Path) -> Iterator[tuple[str, str]]:
    """(key, first value) of one OpenCC dictionary, via its `opencc_dict` tool."""
    out = work / f"{name}.txt"
    subprocess.run(
        [_CLIB / "bin" / "opencc_dict", "-i", share / name, "-o", out, "-f", "ocd2", "-t", "text"],
        check=True,
        capture_output=True,
    )
    for line in out.read_text(encoding="utf-8").splitlines():
        key, values = line.split("\t", 1)
        yield key, values.split(" ")[0]


def _corpus_counts(corpus: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in sorted(corpus.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("//"):
                counts.update(json.loads(line)["text"])
    return counts


def build(corpus: Path = CORPUS, config: str = "tw2sp") -> dict[str, Any]:
    share = _CLIB / "share" / "opencc"
    spec = json.loads((share / f"{config}.json").read_text(encoding="utf-8"))
    stages = {k: v for k, v in spec.items() if k in ("normalization", "conversion_chain")}
    changed: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="opencc-dicts-") as tmp:
        for name in dict.fromkeys(_dict_files(stages)):
            changed.update(key for key, value in _entries(share, name, Path(tmp)) if key != value)
    chars = {key for key in changed if len(key) == 1}
    phrases = sorted(k for k in changed if len(k) > 1 and chars.isdisjoint(k))
    used = _corpus_counts(corpus)
    witnesses = {min(phrase, key=lambda ch: (used[ch], ch)) for phrase in phrases}
    t2s_changed, s2t_changed = script_sets_from_opencc()
    return {
        "opencc": version("opencc"),
        "config": config,
        "tw2sp_chars": "".join(sorted(chars)),
        "tw2sp_phrases": phrases,
        "tw2sp_witnesses": "".join(sorted(witnesses)),
        "t2s_changed": t2s_changed,
        "s2t_changed": s2t_changed,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dispatcher classify build-hanzi",
        description="Rebuild hanzi_sets.json (which characters OpenCC would change) from "
        "the installed OpenCC's dictionaries.",
    )
    parser.add_argument("--out", type=Path, default=SETS_PATH, help="where to write it")
    parser.add_argument(
        "--corpus", type=Path, default=CORPUS, help="chat messages that rank the witnesses"
    )
    args = parser.parse_args(argv)
    sets = build(args.corpus)
    args.out.write_text(json.dumps(sets, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(
        f"{args.out}: {len(sets['tw2sp_chars'])} characters, {len(sets['tw2sp_phrases'])} "
        f"phrases (OpenCC {sets['opencc']})"
    )
    return 0
