"""Finding 9: dependencies. The locks pin every package with hashes, `make` and the image
install only from them, and no locked version is a known-vulnerable release. (pip-audit in
`make lint` checks the whole lock against the advisory databases where reachable.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

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
