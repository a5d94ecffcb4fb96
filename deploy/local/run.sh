#!/usr/bin/env bash
# `make run`: the whole service in the foreground — stack, topics, migrations, worker, API.
# Ctrl-C stops the worker and the API, and the Kafka/PostgreSQL that this run started
# (a stack that was already running is left running).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
# A dev machine: the built-in dev secrets are allowed (production refuses to start with them).
export DISPATCH_MODE="${DISPATCH_MODE:-dev}"
PY="$REPO/.venv/bin/python"
STACK="$HERE/stack.sh"

started_stack=0
"$STACK" status >/dev/null 2>&1 || started_stack=1
"$STACK" up

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "[run] stopping…" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$started_stack" = 1 ]; then "$STACK" down; fi
  echo "[run] stopped" >&2
}
trap cleanup INT TERM EXIT

"$PY" -m dispatcher topics
"$PY" -m dispatcher migrate
"$PY" -m dispatcher worker --name worker-1 & pids+=($!)
"$PY" -m dispatcher api & pids+=($!)
api="http://${DISPATCH_API_HOST:-127.0.0.1}:${DISPATCH_API_PORT:-8080}"
for _ in $(seq 1 120); do
  if curl -fsS "$api/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
if curl -fsS "$api/readyz" >/dev/null 2>&1; then
  # An empty database gets the demo district, so a newcomer sees something happen.
  "$PY" -m dispatcher demo --load-only --api "$api" || echo "[run] demo district not loaded (see above)" >&2
  echo "[run] ready: API $api (docs $api/docs, dashboard $api/dashboard, sign in with DISPATCH_STAFF_TOKEN); Ctrl-C to stop" >&2
else
  echo "[run] the API did not become ready in 60 s; see the logs above" >&2
fi
# Stop everything if either child exits on its own.
wait -n "${pids[@]}" || true
