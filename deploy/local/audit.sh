#!/usr/bin/env bash
# `make lint`'s dependency audit: pip-audit over the locked versions (nothing installed).
# pip-audit needs PyPI's JSON API (or OSV). Where only the package index is reachable it
# cannot audit anything: that is said loudly, and it fails only with
# DISPATCH_AUDIT_REQUIRED=1 (set it in CI, which has the network). Any known vulnerability
# fails, always.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  echo "usage: deploy/local/audit.sh   (pip-audit of requirements-dev.lock; env DISPATCH_AUDIT_REQUIRED=1 to fail when the service is unreachable)"
  exit 0
fi
out="$("$REPO/.venv/bin/pip-audit" --strict --progress-spinner off --disable-pip --no-deps \
  -r "$REPO/requirements-dev.lock" 2>&1)"
rc=$?
if [ $rc -eq 0 ]; then
  echo "$out" | tail -n 3
  exit 0
fi
if echo "$out" | grep -q "could not be audited" && ! echo "$out" | grep -qi "known vulnerabilit"; then
  echo "[audit] NOT AUDITED: the vulnerability service is unreachable from here" >&2
  echo "$out" | grep "could not be audited" | head -n 1 >&2
  if [ "${DISPATCH_AUDIT_REQUIRED:-0}" = "1" ]; then exit 1; fi
  exit 0
fi
echo "$out" >&2
exit $rc
