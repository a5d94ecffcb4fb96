#!/usr/bin/env bash
# `make lint`'s dependency audit of the locked versions (nothing installed):
# 1. always, offline: requirements*.lock (runtime, dev, build) against the checked-in
#    advisory snapshot (deploy/audit/advisories, OSV format; deploy/audit/SNAPSHOT.md says
#    from where and when; refresh: python -m dispatcher.maintenance.lock_audit refresh …).
#    Any locked version inside an advisory's affected range fails.
# 2. pip-audit against PyPI's JSON API / OSV.dev, newer than any snapshot, where reachable.
#    Where only the package index is reachable it cannot audit: said, and the offline
#    verdict stands; with DISPATCH_AUDIT_REQUIRED=1 (CI, which has the network) that fails.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  echo "usage: deploy/local/audit.sh   (offline snapshot audit, then pip-audit of requirements-dev.lock and requirements-build.lock where reachable; env DISPATCH_AUDIT_REQUIRED=1 to fail when pip-audit's service is unreachable)"
  exit 0
fi
cd "$REPO" || exit 1
.venv/bin/python -m dispatcher.maintenance.lock_audit audit \
  requirements.lock requirements-dev.lock requirements-build.lock || exit 1
out="$("$REPO/.venv/bin/pip-audit" --strict --progress-spinner off --disable-pip --no-deps \
  -r "$REPO/requirements-dev.lock" -r "$REPO/requirements-build.lock" 2>&1)"
rc=$?
if [ $rc -eq 0 ]; then
  echo "$out" | tail -n 3
  exit 0
fi
if echo "$out" | grep -q "could not be audited" && ! echo "$out" | grep -qi "known vulnerabilit"; then
  echo "[audit] pip-audit: its vulnerability service is unreachable from here; the offline snapshot's verdict above stands ($(sed -n 's/^Snapshot taken: //p' deploy/audit/SNAPSHOT.md))" >&2
  if [ "${DISPATCH_AUDIT_REQUIRED:-0}" = "1" ]; then exit 1; fi
  exit 0
fi
echo "$out" >&2
exit $rc
