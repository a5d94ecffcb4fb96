"""The image installs nothing unpinned: every `pip install` of deploy/Dockerfile takes a lock
with `--require-hashes`, and our package is built without build isolation, which would
fetch `[build-system] requires` (setuptools, wheel) from the index unpinned and unhashed.
The build tools come from requirements-build.lock, pinned with hashes to versions the
build requires accept, and audited with the other locks by `make lint`."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dispatcher.maintenance import lock_audit
from dispatcher.settings import REPO_ROOT

DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
BUILD_LOCK = REPO_ROOT / "requirements-build.lock"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)")


def pip_installs(dockerfile: str) -> list[str]:
    """Every `pip install …` command of the Dockerfile, continuation lines joined."""
    text = dockerfile.replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for part in re.split(r"&&|;", line):
            if re.search(r"\bpip\s+install\b", part):
                commands.append(" ".join(part.split()))
    return commands


def unsafe_installs(dockerfile: str) -> list[str]:
    """Installs that could take something unpinned: from the index without hashes, or a
    local build with build isolation (its build requires fetched as the index serves)."""
    bad = []
    for command in pip_installs(dockerfile):
        args = command.split()
        from_lock = "-r" in args and "--require-hashes" in args
        local_build = args[-1] == "." and {"--no-deps", "--no-build-isolation"} <= set(args)
        if not (from_lock or local_build):
            bad.append(command)
    return bad


def locked(path_text: str) -> dict[str, tuple[str, int]]:
    """Canonical name → (version, number of hashes) of a pip-compile lock."""
    out = {}
    for block in re.split(r"\n(?=\S)", path_text):
        m = _PIN.match(block)
        if m:
            out[canonicalize_name(m.group(1))] = (m.group(2), block.count("--hash=sha256:"))
    return out


def test_every_pip_install_of_the_image_is_pinned_and_hashed() -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    installs = pip_installs(dockerfile)
    assert any("-r requirements.lock" in c for c in installs)
    assert any("-r requirements-build.lock" in c for c in installs)
    assert unsafe_installs(dockerfile) == []
    assert "requirements-build.lock" in dockerfile.split("RUN")[0]  # copied before use


def test_the_check_catches_the_isolated_build() -> None:
    """The Dockerfile as it was: `pip install --no-cache-dir --no-deps .`."""
    old = "RUN /opt/venv/bin/pip install --no-cache-dir --no-deps .\n"
    assert unsafe_installs(old) == ["RUN /opt/venv/bin/pip install --no-cache-dir --no-deps ."]
    assert unsafe_installs("RUN pip install -r requirements.lock\n") != []


def test_the_build_lock_pins_every_build_requirement_with_hashes() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requires = [Requirement(r) for r in pyproject["build-system"]["requires"]]
    pins = locked(BUILD_LOCK.read_text(encoding="utf-8"))
    assert {canonicalize_name(r.name) for r in requires} == {"setuptools", "wheel"}
    for requirement in requires:
        version, _ = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), f"{requirement} vs {version}"
    assert all(hashes > 0 for _, hashes in pins.values()), pins


def test_the_build_lock_is_made_and_audited_with_the_others() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-o requirements-build.lock pyproject.toml" in makefile  # `make lock`
    audit = (REPO_ROOT / "deploy" / "local" / "audit.sh").read_text(encoding="utf-8")
    offline = audit.split("lock_audit audit", 1)[1].split("|| exit 1", 1)[0]
    assert "requirements-build.lock" in offline
    assert '-r "$REPO/requirements-build.lock"' in audit  # pip-audit, where reachable
    assert lock_audit.audit(lock_audit.locked_versions([BUILD_LOCK])) == []
