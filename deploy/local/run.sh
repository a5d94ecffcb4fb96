#!/usr/bin/env bash
# `make run`: the whole service in the foreground — stack, topics, migrations, worker, API.
# The worker and the API are supervised: one that exits (a crash, a kill -9, a fail-stop on an
# offset hole) is restarted with backoff (1 s doubling to 30 s), and logged. Only Ctrl-C stops
# the run; a process that keeps failing (10 restarts without a minute of uptime) makes the run
# give up and exit non-zero. Ctrl-C stops the worker and the API, and the Kafka/PostgreSQL that
# this run started (a stack that was already running is left running).
# `run.sh --print-env` prints the broker, database and Faust data dir the run would use.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
# A dev machine: the built-in dev secrets are allowed (production refuses to start with them).
export DISPATCH_MODE="${DISPATCH_MODE:-dev}"
PY="$REPO/.venv/bin/python"
STACK="$HERE/stack.sh"

# The service talks to the stack this run starts: its broker, database and Faust data dir as
# `stack.sh env` prints them (from DISPATCH_KAFKA_PORT, DISPATCH_PG_PORT, DISPATCH_STACK_DIR),
# so a stack on other ports or in another directory is the one the worker and API use, and
# `stack.sh reset` wipes the Faust data they wrote. A variable already set is kept.
while IFS= read -r line; do
  name="${line%%=*}"
  if [ -z "${!name:-}" ]; then export "$name=${line#*=}"; fi
done < <("$STACK" env)
# `run.sh --print-env`: what the run would use, without starting anything.
if [ "${1:-}" = --print-env ]; then
  for name in DISPATCH_MODE DISPATCH_KAFKA_BOOTSTRAP DISPATCH_PG_DSN DISPATCH_DATA_DIR; do
    echo "$name=${!name}"
  done
  exit 0
fi

started_stack=0
"$STACK" status >/dev/null 2>&1 || started_stack=1
"$STACK" up

pids=()
RUNDIR="${DISPATCH_STACK_DIR:-$REPO/.stack}/run"
mkdir -p "$RUNDIR"

# supervise NAME CMD...: run CMD, restart it when it exits, until TERM. Writes NAME.pid.
supervise() {
  local name=$1; shift
  local child="" delay=1 fails=0 started rc
  trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  stopping=0
  while :; do
    started=$SECONDS
    "$@" & child=$!
    echo "$child" >"$RUNDIR/$name.pid"
    rc=0; wait "$child" || rc=$?
    [ "$stopping" = 1 ] && exit 0
    if (( SECONDS - started >= 60 )); then delay=1; fails=0; fi
    fails=$((fails + 1))
    if (( fails > 10 )); then
      echo "[run] $name failed $fails times in a row (last exit $rc): giving up" >&2
      exit 1
    fi
    echo "[run] $name exited with status $rc; restarting in ${delay} s (restart $fails)" >&2
    sleep "$delay"
    delay=$(( delay * 2 > 30 ? 30 : delay * 2 ))
  done
}

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
# Ctrl-C (or TERM) is the one way to stop the run: clean up and exit 0. Any other exit
# (a supervisor gave up, a failed set-up step) cleans up too and keeps its status.
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

# Dev: the worker pushes offers to the demo's simulated phones on 127.0.0.1:8089, where
# `python -m dispatcher demo` listens (README "Demo"). The worker reads its endpoints once at
# start; with no demo running, those pushes fail after their retries and the ladder moves on.
if [ "$DISPATCH_MODE" = dev ] && [ -z "${DISPATCH_PUSH_ENDPOINTS:-}" ]; then
  DISPATCH_PUSH_ENDPOINTS="$("$PY" -m dispatcher demo --push-endpoints)"
  export DISPATCH_PUSH_ENDPOINTS
fi
"$PY" -m dispatcher topics
"$PY" -m dispatcher migrate
supervise worker-1 "$PY" -m dispatcher worker --name worker-1 & pids+=($!)
supervise api "$PY" -m dispatcher api & pids+=($!)
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
# A supervisor returns only when it gave up: then stop everything and fail.
rc=0
wait -n "${pids[@]}" || rc=$?
echo "[run] a supervised process could not be kept running; stopping (exit 1)" >&2
exit 1
