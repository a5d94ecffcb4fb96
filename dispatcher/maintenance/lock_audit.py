"""An offline audit of the locked versions against a checked-in snapshot of advisories.

pip-audit needs PyPI's JSON API or OSV.dev, which some build machines cannot reach (only
the package index). This is the honest equivalent there: every `name==version` of
`requirements*.lock` is checked against the advisories in `deploy/audit/advisories/`
(OSV format, one JSON file per advisory, `<package>/<ID>.json`), kept only for packages
in the locks. A locked version inside an advisory's affected range (its ECOSYSTEM ranges
or its explicit version list) fails the audit. The snapshot is only as new as its last
refresh (`deploy/audit/SNAPSHOT.md` says from where and when).

    python -m dispatcher.maintenance.lock_audit audit [--db DIR] [LOCK ...]
    python -m dispatcher.maintenance.lock_audit refresh --source DIR [--source DIR ...]

`refresh` reads checkouts (or bare git mirrors) of github.com/pypa/advisory-database
(`vulns/<package>/*.yaml`) and of github.com/github/advisory-database
(`advisories/github-reviewed/**/*.json`), keeps the PyPI entries for locked packages, and
rewrites the snapshot directory.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from dispatcher.settings import REPO_ROOT

DB = REPO_ROOT / "deploy" / "audit" / "advisories"
LOCKS = (
    REPO_ROOT / "requirements.lock",
    REPO_ROOT / "requirements-dev.lock",
    REPO_ROOT / "requirements-build.lock",  # the image's build tools (deploy/Dockerfile)
)
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", re.M)


def locked_versions(locks: Iterable[Path]) -> dict[str, str]:
    """Canonical package name → locked version, over all the locks."""
    out: dict[str, str] = {}
    for lock in locks:
        for name, version in _PIN.findall(lock.read_text(encoding="utf-8")):
            out[canonicalize_name(name)] = version
    return out


def _v(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def in_range(version: Version, events: list[dict[str, str]]) -> bool:
    """OSV's evaluation of one ECOSYSTEM range: walk the events in version order."""
    keyed = []
    for event in events:
        ((kind, raw),) = event.items()
        at = Version("0") if raw == "0" else _v(raw)
        if at is None:
            continue
        keyed.append(
            (at, {"introduced": 0, "fixed": 1, "last_affected": 2, "limit": 3}[kind], kind)
        )
    affected = False
    for at, _, kind in sorted(keyed):
        if kind == "introduced" and version >= at:
            affected = True
        elif (
            (kind == "fixed" and version >= at)
            or (kind == "last_affected" and version > at)
            or (kind == "limit" and version >= at)
        ):
            affected = False
    return affected


def affects(advisory: dict[str, Any], package: str, version: str) -> bool:
    if advisory.get("withdrawn"):
        return False
    v = _v(version)
    for entry in advisory.get("affected", []):
        pkg = entry.get("package", {})
        if pkg.get("ecosystem") != "PyPI" or canonicalize_name(pkg.get("name", "")) != package:
            continue
        if version in entry.get("versions", []):
            return True
        for r in entry.get("ranges", []):
            if r.get("type") == "ECOSYSTEM" and v is not None and in_range(v, r["events"]):
                return True
    return False


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    summary: str

    def __str__(self) -> str:
        also = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.package}=={self.version}: {self.advisory}{also} {self.summary}"


def advisories(db: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(db.glob("*/*.json")):
        yield path.parent.name, json.loads(path.read_text(encoding="utf-8"))


def audit(pins: dict[str, str], db: Path = DB) -> list[Finding]:
    found = []
    for package, advisory in advisories(db):
        version = pins.get(package)
        if version is not None and affects(advisory, package, version):
            summary = (advisory.get("summary") or advisory.get("details") or "")[:120]
            found.append(
                Finding(
                    package,
                    version,
                    advisory["id"],
                    tuple(advisory.get("aliases", ())),
                    " ".join(summary.split()),
                )
            )
    return found


# ------------------------------------------------------------------------------ refresh
def _tree(source: Path, stack: list[tempfile.TemporaryDirectory[str]]) -> Path:
    """A work tree for `source`: itself, or a bare mirror's HEAD unpacked."""
    if (source / "HEAD").is_file() and (source / "objects").is_dir():
        tmp = tempfile.TemporaryDirectory()
        stack.append(tmp)
        archive = subprocess.run(
            ["git", "--git-dir", str(source), "archive", "HEAD"], capture_output=True, check=True
        ).stdout
        with tempfile.TemporaryFile() as f:
            f.write(archive)
            f.seek(0)
            with tarfile.open(fileobj=f) as tar:
                tar.extractall(tmp.name, filter="data")
        return Path(tmp.name)
    return source


def _documents(tree: Path) -> Iterator[dict[str, Any]]:
    import yaml  # a dev dependency: refreshing is a maintainer's job

    for path in sorted((tree / "vulns").glob("*/*.yaml")):
        yield yaml.safe_load(path.read_text(encoding="utf-8"))
    for path in sorted((tree / "advisories" / "github-reviewed").glob("*/*/*/*.json")):
        yield json.loads(path.read_text(encoding="utf-8"))


def _trimmed(doc: dict[str, Any], package: str) -> dict[str, Any]:
    """The advisory with only this package's PyPI entries and ECOSYSTEM ranges."""
    entries = []
    for entry in doc.get("affected", []):
        pkg = entry.get("package", {})
        if pkg.get("ecosystem") == "PyPI" and canonicalize_name(pkg.get("name", "")) == package:
            ranges = [r for r in entry.get("ranges", []) if r.get("type") == "ECOSYSTEM"]
            kept = {**entry, "ranges": ranges}
            if ranges:  # the range covers the explicit list (PyPA's are long): keep it small
                kept.pop("versions", None)
            entries.append(kept)
    keep = ("id", "aliases", "summary", "details", "modified", "published", "withdrawn")
    out = {k: doc[k] for k in keep if k in doc}
    out["details"] = str(out.get("details", ""))[:600]
    out["references"] = doc.get("references", [])[:3]
    out["affected"] = entries
    return out


def _iso(value: object) -> str:
    """YAML reads OSV's timestamps as datetimes; JSON keeps them as RFC 3339 text."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(type(value).__name__)


def refresh(sources: list[Path], pins: dict[str, str], db: Path = DB) -> int:
    keep: dict[tuple[str, str], dict[str, Any]] = {}
    stack: list[tempfile.TemporaryDirectory[str]] = []
    try:
        for source in sources:
            for doc in _documents(_tree(source, stack)):
                for entry in doc.get("affected", []):
                    pkg = entry.get("package", {})
                    name = canonicalize_name(pkg.get("name", ""))
                    if pkg.get("ecosystem") == "PyPI" and name in pins:
                        keep[(name, doc["id"])] = _trimmed(doc, name)
    finally:
        for tmp in stack:
            tmp.cleanup()
    for old in db.glob("*/*.json"):
        old.unlink()
    for (package, ident), doc in sorted(keep.items()):
        (db / package).mkdir(parents=True, exist_ok=True)
        text = json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True, default=_iso) + "\n"
        (db / package / f"{ident}.json").write_text(text, encoding="utf-8")
    for folder in db.glob("*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return len(keep)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispatcher.maintenance.lock_audit")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("audit", help="check the locks against the snapshot (exit 1 on a hit)")
    a.add_argument("locks", nargs="*", type=Path, default=list(LOCKS))
    a.add_argument("--db", type=Path, default=DB)
    r = sub.add_parser("refresh", help="rebuild the snapshot from advisory database checkouts")
    r.add_argument("--source", type=Path, action="append", required=True)
    r.add_argument("--db", type=Path, default=DB)
    args = parser.parse_args(argv)
    if args.command == "refresh":
        n = refresh(args.source, locked_versions(LOCKS), args.db)
        print(f"[audit] kept {n} advisories for locked packages in {args.db}")
        return 0
    pins = locked_versions(args.locks)
    files = sum(1 for _ in args.db.glob("*/*.json"))
    if files == 0:
        print(f"[audit] no advisories in {args.db}: nothing to audit against", file=sys.stderr)
        return 2
    found = audit(pins, args.db)
    for f in found:
        print(f"[audit] VULNERABLE {f}", file=sys.stderr)
    if found:
        return 1
    print(
        f"[audit] offline: {len(pins)} locked packages, {files} advisories, no known vulnerability"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
