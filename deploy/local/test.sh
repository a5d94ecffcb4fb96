#!/usr/bin/env bash
# `make test`: start the local stack if needed, run the whole suite, stop what was started.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
STACK="$HERE/stack.sh"
"$HERE/system-deps.sh"
started_stack=0
"$STACK" status >/dev/null 2>&1 || started_stack=1
"$STACK" up
rc=0
"$REPO/.venv/bin/python" -m pytest "$@" || rc=$?
if [ "$started_stack" = 1 ]; then "$STACK" down; fi
# pytest exits 5 when it collected no test: that is a failure here, never a silent pass.
exit "$rc"
