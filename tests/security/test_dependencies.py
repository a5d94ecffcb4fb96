"""Finding 9: dependencies. The locks pin every package with hashes, `make` and the image
install only from them, and no locked version is a known-vulnerable release. (pip-audit in
`make lint` checks the whole lock against the advisory databases where reachable, and
always against the checked-in snapshot, deploy/audit.)"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from dispatcher.maintenance import lock_audit
from dispatcher.settings import REPO_ROOT

LOCKS = ("requirements.lock", "requirements-dev.lock")
# Fixed in: python-multipart 0.0.18 (CVE-2024-53981), starlette 0.49.1 (CVE-2025-62727),
# h11 0.16.0 (CVE-2025-43859).
FIXED_IN = {"python-multipart": "0.0.18", "starlette": "0.49.1", "h11": "0.16.0"}
PINNED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)")


def locked(name: str) -> dict[str, tuple[str, int]]:
    """package → (version, number of hashes)."""
    text = (REPO_ROOT / name).read_text()
    out: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=\S)", text):
        m = _PIN.match(block)
        if m:
            out[canonicalize_name(m.group(1))] = (m.group(2), block.count("--hash=sha256:"))
    return out


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_is_pinned_with_hashes(lock: str) -> None:
    packages = locked(lock)
    assert len(packages) > 20
    assert all(hashes > 0 for _, hashes in packages.values()), lock
    for name, fixed in FIXED_IN.items():
        assert Version(packages[name][0]) >= Version(fixed), name
    for name, version in PINNED.items():
        assert packages[name][0] == version


LAST_VULNERABLE = {"python-multipart": "0.0.17", "starlette": "0.49.0", "h11": "0.15.0"}


def test_lower_bounds_exclude_the_vulnerable_releases() -> None:
    doc = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    reqs = [Requirement(d) for d in doc["project"]["dependencies"]]
    deps = {canonicalize_name(r.name): r.specifier for r in reqs}
    for name, fixed in FIXED_IN.items():
        assert not deps[name].contains(LAST_VULNERABLE[name]), name
        assert deps[name].contains(fixed), name


def test_the_locks_cover_pyproject_and_make_and_the_image_use_them() -> None:
    doc = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    runtime = {canonicalize_name(Requirement(d).name) for d in doc["project"]["dependencies"]}
    dev = {
        canonicalize_name(Requirement(d).name)
        for d in doc["project"]["optional-dependencies"]["dev"]
    }
    assert runtime <= set(locked("requirements.lock"))
    assert runtime | dev <= set(locked("requirements-dev.lock"))
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements-dev.lock" in makefile
    assert "deploy/local/audit.sh" in makefile
    dockerfile = Path(REPO_ROOT, "deploy", "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in dockerfile


# The offline audit (`make lint` → deploy/local/audit.sh → lock_audit): the locks against
# the checked-in advisory snapshot, since pip-audit's services are unreachable here.
def _audit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatcher.maintenance.lock_audit", "audit", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("pin", "advisory"),
    [
        ("h11==0.14.0", "GHSA-vqfr-h8mv-ghfj"),  # from the GitHub database
        ("starlette==0.49.0", "GHSA-7f5h-v6xp-fcq8"),
        ("starlette==0.24.0", "PYSEC-2023-48"),  # from PyPA's
        ("urllib3==1.26.4", "PYSEC-2021-108"),
    ],
)
def test_the_offline_audit_fails_on_a_known_vulnerable_pin(
    tmp_path: Path, pin: str, advisory: str
) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"{pin} \\\n    --hash=sha256:{'0' * 64}\n")
    found = lock_audit.audit(lock_audit.locked_versions([lock]))
    assert advisory in {f.advisory for f in found}
    done = _audit_cli(str(lock))
    assert done.returncode == 1 and advisory in done.stderr and pin in done.stderr


def test_the_offline_audit_passes_on_the_locks() -> None:
    pins = lock_audit.locked_versions(lock_audit.LOCKS)
    assert pins["h11"] == locked("requirements.lock")["h11"][0]
    assert lock_audit.audit(pins) == []
    done = _audit_cli()
    assert done.returncode == 0, done.stderr
    assert "no known vulnerability" in done.stdout


def test_the_snapshot_is_osv_for_locked_packages_only() -> None:
    pins = lock_audit.locked_versions(lock_audit.LOCKS)
    files = list(lock_audit.DB.glob("*/*.json"))
    assert len(files) > 100
    for package, advisory in lock_audit.advisories(lock_audit.DB):
        assert package in pins, package
        assert advisory["id"] and advisory["affected"], advisory
    assert "Snapshot taken:" in (lock_audit.DB.parent / "SNAPSHOT.md").read_text()
    script = (REPO_ROOT / "deploy/local/audit.sh").read_text()
    assert "lock_audit audit" in script and "NOT AUDITED" not in script


def test_an_empty_snapshot_fails_rather_than_passes(tmp_path: Path) -> None:
    done = _audit_cli("--db", str(tmp_path))
    assert done.returncode == 2 and "nothing to audit against" in done.stderr


@pytest.mark.parametrize(
    ("version", "events", "affected"),
    [
        ("0.14.0", [{"introduced": "0"}, {"fixed": "0.16.0"}], True),
        ("0.16.0", [{"introduced": "0"}, {"fixed": "0.16.0"}], False),
        ("1.5", [{"introduced": "1.0"}, {"last_affected": "1.5"}], True),
        ("1.5.1", [{"introduced": "1.0"}, {"last_affected": "1.5"}], False),
        ("0.9", [{"introduced": "1.0"}, {"fixed": "2.0"}], False),
        # two ranges in one list: affected again after a re-introduction
        ("3.1", [{"fixed": "2.0"}, {"introduced": "0"}, {"introduced": "3.0"}], True),
        ("2.5", [{"fixed": "2.0"}, {"introduced": "0"}, {"introduced": "3.0"}], False),
    ],
)
def test_osv_range_evaluation(version: str, events: list[dict[str, str]], affected: bool) -> None:
    assert lock_audit.in_range(Version(version), events) is affected
