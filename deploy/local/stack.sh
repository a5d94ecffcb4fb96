#!/usr/bin/env bash
# The local stack: the real Apache Kafka broker (KRaft, one node) and a private PostgreSQL
# cluster, both on loopback. Idempotent: `up` twice starts nothing twice.
#
#   deploy/local/stack.sh up|down|status|reset|kafka-up|kafka-down|pg-up|pg-down|env
#
# Settings (environment): DISPATCH_STACK_DIR (default <repo>/.stack), DISPATCH_KAFKA_PORT
# (19092), DISPATCH_KAFKA_CONTROLLER_PORT (19093), DISPATCH_PG_PORT (55432),
# DISPATCH_TOPIC_PARTITIONS (8), DISPATCH_KAFKA_HEAP (512m), DISPATCH_KAFKA_GC_FLAGS
# (G1, as Kafka's scripts), DISPATCH_KAFKA_NETWORK_THREADS (2), DISPATCH_KAFKA_IO_THREADS (4),
# DISPATCH_PG_STAT_STATEMENTS (0; 1 loads pg_stat_statements for `bench e2e`'s statement costs).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STACK="${DISPATCH_STACK_DIR:-$REPO/.stack}"
KAFKA_PORT="${DISPATCH_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${DISPATCH_KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${DISPATCH_PG_PORT:-55432}"
PARTITIONS="${DISPATCH_TOPIC_PARTITIONS:-8}"
HEAP="${DISPATCH_KAFKA_HEAP:-512m}"
# Kafka's own GC flags (kafka-run-class.sh). Serial GC with 1 network / 2 I/O threads showed
# no CPU-per-request gain in side-by-side runs (docs/performance-log.md, 2026-12-02): the knobs
# stay so the comparison can be repeated on a quieter machine.
GC_FLAGS="-XX:+UseG1GC -XX:MaxGCPauseMillis=20"
LIB="$HERE/lib/kafka"
KDIR="$STACK/kafka"
PY="${DISPATCH_PYTHON:-$REPO/.venv/bin/python}"

say() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---------------------------------------------------------------- Kafka
kafka_fetch() {
  if compgen -G "$LIB/kafka_2.13-*.jar" >/dev/null && compgen -G "$LIB/log4j-slf4j-impl-*.jar" >/dev/null; then
    return
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka's jars: apt-get install maven"
  command -v java >/dev/null || die "Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre-headless"
  say "fetching Apache Kafka's jars from Maven Central (first run only)…"
  mvn -q -B -f "$HERE/kafka/pom.xml" dependency:copy-dependencies -Dkafka.lib.dir="$LIB"
}

kafka_ready() {
  "$PY" - "$KAFKA_PORT" <<'PY' >/dev/null 2>&1
import asyncio, sys
from aiokafka.admin import AIOKafkaAdminClient
async def main() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{sys.argv[1]}", request_timeout_ms=3000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()
asyncio.run(main())
PY
}

kafka_up() {
  mkdir -p "$KDIR/data" "$KDIR/logs"
  if alive "$KDIR/pid"; then say "kafka already running (pid $(cat "$KDIR/pid")) on 127.0.0.1:$KAFKA_PORT"; return; fi
  kafka_fetch
  sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
      -e "s#@KAFKA_DATA@#$KDIR/data#g" -e "s#@PARTITIONS@#$PARTITIONS#g" \
      -e "s#@NETWORK_THREADS@#${DISPATCH_KAFKA_NETWORK_THREADS:-2}#g" \
      -e "s#@IO_THREADS@#${DISPATCH_KAFKA_IO_THREADS:-4}#g" \
      "$HERE/server.properties.template" > "$KDIR/server.properties"
  # shellcheck disable=SC2206  # the flags are words on purpose
  local gc=(${DISPATCH_KAFKA_GC_FLAGS:-$GC_FLAGS})
  local jvm=(java "-Xms$HEAP" "-Xmx$HEAP" "${gc[@]}" -Djava.awt.headless=true
             "-Dkafka.logs.dir=$KDIR/logs" "-Dlog4j2.configurationFile=$HERE/log4j2.properties"
             -cp "$LIB/*")
  if [ ! -f "$KDIR/data/meta.properties" ]; then
    local id; id="$("${jvm[@]}" kafka.tools.StorageTool random-uuid | tail -n 1)"
    say "formatting kafka storage (cluster $id)"
    # Static controller.quorum.voters: format WITHOUT --standalone (mixing is an error).
    "${jvm[@]}" kafka.tools.StorageTool format -t "$id" -c "$KDIR/server.properties" >"$KDIR/logs/format.log" 2>&1 \
      || { cat "$KDIR/logs/format.log" >&2; die "kafka storage format failed"; }
  fi
  local t0=$SECONDS
  nohup "${jvm[@]}" kafka.Kafka "$KDIR/server.properties" >"$KDIR/logs/console.log" 2>&1 &
  echo $! >"$KDIR/pid"
  say "kafka starting (pid $!), waiting until an admin client can list topics…"
  for _ in $(seq 1 120); do
    alive "$KDIR/pid" || { tail -n 30 "$KDIR/logs/console.log" >&2; die "kafka exited; see $KDIR/logs"; }
    if kafka_ready; then say "kafka ready on 127.0.0.1:$KAFKA_PORT after $((SECONDS - t0)) s"; return; fi
    sleep 0.5
  done
  die "kafka did not become ready in 60 s; see $KDIR/logs/server.log"
}

stop_pid() {  # stop_pid NAME PIDFILE: TERM, wait up to 30 s, then KILL
  local name=$1 pidf=$2
  if ! alive "$pidf"; then rm -f "$pidf"; say "$name not running"; return; fi
  local pid; pid="$(cat "$pidf")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 30 s: killing"; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$pidf"; say "$name stopped"
}

kafka_down() { stop_pid kafka "$KDIR/pid"; }

# ---------------------------------------------------------------- PostgreSQL
pg_bin() {
  local d; d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    say "installing PostgreSQL from Debian's packages…"
    if [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    else
      die "PostgreSQL server is missing: sudo apt-get install postgresql"
    fi
    d="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  echo "$d"
}

# PostgreSQL refuses to run as root: as root we run it as the unprivileged `postgres` user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_dir() {
  # The postgres user must be able to reach the data dir; a checkout under /root is not reachable.
  local d="$STACK/pg"
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$STACK"
    if ! runuser -u postgres -- test -x "$STACK"; then
      d="/var/tmp/neighbour-dispatch-$(printf '%s' "$STACK" | md5sum | cut -c1-12)/pg"
    fi
  fi
  echo "$d"
}

pg_up() {
  local bin dir; bin="$(pg_bin)"; dir="$(pg_dir)"
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir" && chmod 700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "initialising a private PostgreSQL cluster in $dir/data"
    as_pg "$bin/initdb" -D "$dir/data" -U dispatch --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  if as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    say "postgresql already running on 127.0.0.1:$PG_PORT"
  else
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='$dir' -c fsync=on -c max_connections=100$(pg_stat_flags)" \
      start >/dev/null || { tail -n 30 "$dir/server.log" >&2; die "postgresql did not start"; }
    say "postgresql ready on 127.0.0.1:$PG_PORT"
  fi
  if ! as_pg "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U dispatch -d postgres -tAc "select 1 from pg_database where datname='dispatch'" | grep -q 1; then
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U dispatch dispatch
    say "created database dispatch"
  fi
}

# Statement statistics for `bench e2e --pg-statements` (off by default: the extension costs a
# little on every statement, and the benches' CPU figures are compared without it).
pg_stat_flags() {
  if [ "${DISPATCH_PG_STAT_STATEMENTS:-0}" = 1 ]; then
    printf ' -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top'
  fi
}

pg_down() {
  local dir; dir="$(pg_dir)"
  local bin; bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$bin" ] && [ -f "$dir/data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null; say "postgresql stopped"
  else
    say "postgresql not running"
  fi
}

status() {
  local rc=0
  if alive "$KDIR/pid"; then echo "kafka: running (pid $(cat "$KDIR/pid")) 127.0.0.1:$KAFKA_PORT, data $KDIR/data";
  else echo "kafka: stopped (data $KDIR/data)"; rc=1; fi
  local dir bin; dir="$(pg_dir)"; bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$bin" ] && [ -f "$dir/data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "postgresql: running 127.0.0.1:$PG_PORT, data $dir/data"
  else echo "postgresql: stopped (data $dir/data)"; rc=1; fi
  return $rc
}

reset() {
  # Kafka's log dirs and Faust's local data must be wiped together (faust #158).
  kafka_down; pg_down
  local dir; dir="$(pg_dir)"
  rm -rf "$KDIR" "$dir" "$STACK/faust"
  say "wiped kafka data, postgresql cluster and faust data under $STACK"
  if [ -n "${DISPATCH_DATA_DIR:-}" ] && [ "${DISPATCH_DATA_DIR%/}" != "$STACK/faust" ]; then
    say "DISPATCH_DATA_DIR=$DISPATCH_DATA_DIR is not the stack's: wipe it yourself (faust #158)"
  fi
}

case "${1:-}" in
  up) kafka_up; pg_up ;;
  down) kafka_down; pg_down ;;
  status) status ;;
  reset) reset ;;
  kafka-up) kafka_up ;;
  kafka-down) kafka_down ;;
  pg-up) pg_up ;;
  pg-down) pg_down ;;
  fetch) kafka_fetch ;;
  env)  # the service's settings for this stack (deploy/local/run.sh exports the ones unset)
    echo "DISPATCH_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
    echo "DISPATCH_PG_DSN=postgresql://dispatch@127.0.0.1:$PG_PORT/dispatch"
    echo "DISPATCH_DATA_DIR=$STACK/faust" ;;
  -h|--help|help|"") sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command ${1}; try --help" ;;
esac
