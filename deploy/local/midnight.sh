#!/usr/bin/env bash
# Run tests as if the wall clock read just before local midnight (China's: 16:00 UTC), to
# find the tests that fail by chance when CI happens to run then (a request opened at
# 23:59:59 is no longer "today" a second later). Not part of `make test`: an audit, run
# when tests or day logic change.
#
#   deploy/local/midnight.sh LEAD pytest-args…     e.g.  deploy/local/midnight.sh 10 tests/integration
#
# Each test module starts LEAD seconds (a decimal) before the next local midnight and its
# time flows on from there: this process, the workers and APIs the tests start, and a
# second PostgreSQL cluster (port DISPATCH_MIDNIGHT_PG_PORT, 55433) all read the same
# shifted wall clock through libfaketime; monotonic clocks and the Kafka broker keep the
# real time. A test that fails only here, at some LEAD, straddles midnight: reproduce it
# at that LEAD, then make it wait the midnight out (tests/support/local_day.py) or read
# the day of the record it checks instead of today's. A test that starts a JVM of its own
# (tests/integration/test_kafka_acls.py's broker) starts it without LD_PRELOAD: under the
# preloaded library that JVM never listened.
#
# libfaketime is built here from the source PyPI's libfaketime 3.0.1 ships (libfaketime
# 0.9.10, as Debian's), patched: 0.9.10 moves an absolute CLOCK_MONOTONIC clock_nanosleep
# even with the monotonic clock left real, so Python 3.11's time.sleep fails with EINVAL
# (upstream libfaketime issue 426, fixed after 0.9.10). Needs gcc and make.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STACK="${DISPATCH_STACK_DIR:-$REPO/.stack}"
PY="$REPO/.venv/bin/python"
PG_PORT="${DISPATCH_MIDNIGHT_PG_PORT:-55433}"
WHEEL="libfaketime==3.0.1 --hash=sha256:5eed7c17f3d4ba0f6f828de4975f69a622b06b1e792674e6c1b069c0689fab79"

say() { printf '[midnight] %s\n' "$*" >&2; }
die() { printf '[midnight] error: %s\n' "$*" >&2; exit 1; }
misuse() { printf '[midnight] error: %s (--help says how)\n' "$*" >&2; exit 2; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") misuse "usage: $0 LEAD_SECONDS pytest-args…" ;;
esac
LEAD="$1"; shift
[[ "$LEAD" =~ ^-?[0-9]+([.][0-9]+)?$ ]] || misuse "LEAD must be seconds before midnight, e.g. 10 or 4.5 (got '$LEAD')"
[ -x "$PY" ] || die "no virtualenv: run make install first"

# PostgreSQL runs as the unprivileged `postgres` user, which must read the library and the
# clock file: as root they live under /var/tmp (a checkout under /root is not reachable).
if [ "$(id -u)" = 0 ]; then
  DIR="/var/tmp/neighbour-dispatch-midnight-$(printf '%s' "$STACK" | md5sum | cut -c1-12)"
else
  DIR="$STACK/midnight"
fi
mkdir -p "$DIR"; chmod 755 "$DIR"
LIBFT="$DIR/libfaketime.so.1"
CLOCK="$DIR/offset"

build_libfaketime() {
  command -v gcc >/dev/null && command -v make >/dev/null || die "gcc and make are needed: apt-get install build-essential"
  local work; work="$(mktemp -d)"
  say "building libfaketime (patched 0.9.10) in $work"
  "$PY" -m pip download -q --no-deps --require-hashes -r <(echo "$WHEEL") -d "$work"
  "$PY" - "$work" <<'EOF'
import sys, zipfile, glob
work = sys.argv[1]
zipfile.ZipFile(glob.glob(f"{work}/libfaketime-*.whl")[0]).extractall(work)
EOF
  local src="$work/libfaketime/vendor/libfaketime/src"
  rm -f "$src"/*.so*
  # The fix of upstream issue 426: leave an absolute monotonic sleep alone unless the
  # monotonic clock is faked.
  sed -i '/^int clock_nanosleep/,/^}/ s/else if (clock_id == CLOCK_MONOTONIC)$/else if (clock_id == CLOCK_MONOTONIC \&\& fake_monotonic_clock)/' "$src/libfaketime.c"
  [ "$(grep -c 'CLOCK_MONOTONIC && fake_monotonic_clock)$' "$src/libfaketime.c")" = 1 ] \
    || die "the clock_nanosleep patch did not apply to this libfaketime"
  make -s -C "$src" libfaketime.so.1 >"$work/build.log" 2>&1 || { tail -20 "$work/build.log" >&2; die "libfaketime did not build"; }
  install -m 755 "$src/libfaketime.so.1" "$LIBFT"
  rm -rf "$work"
}
[ -f "$LIBFT" ] || build_libfaketime
[ -f "$CLOCK" ] || echo "+0" >"$CLOCK"
chmod 666 "$CLOCK"

# Kafka (and the default PostgreSQL, which the tests' stack checks) as usual.
"$HERE/stack.sh" up

# A second PostgreSQL cluster on the shifted clock: the dashboards' and reports' "today"
# is PostgreSQL's now().
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
BIN="$(pg_bin)"; [ -n "$BIN" ] || die "PostgreSQL is not installed (make test installs it)"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGDIR="$DIR/pg"
if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
  mkdir -p "$PGDIR"; [ "$(id -u)" = 0 ] && chown postgres: "$PGDIR" && chmod 700 "$PGDIR"
  as_pg "$BIN/initdb" -D "$PGDIR/data" -U dispatch --auth=trust -E UTF8 --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1 \
    || { cat "$PGDIR/initdb.log" >&2; die "initdb failed"; }
fi
FAKE_ENV=(FAKETIME_TIMESTAMP_FILE="$CLOCK" FAKETIME_CACHE_DURATION=1 FAKETIME_DONT_FAKE_MONOTONIC=1)
if ! as_pg "$BIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
  as_pg env LD_PRELOAD="$LIBFT" "${FAKE_ENV[@]}" "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='$PGDIR' -c max_connections=100" \
    start >/dev/null || { tail -n 30 "$PGDIR/server.log" >&2; die "the shifted PostgreSQL did not start"; }
  as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U dispatch dispatch 2>/dev/null || true
  say "PostgreSQL on the shifted clock: 127.0.0.1:$PG_PORT (stop: $BIN/pg_ctl -D $PGDIR/data stop, as postgres)"
fi

# The real clocks now, for the plugin to place each module's start (the monotonic clock
# is never shifted, so it tells the real time later on).
read -r REAL0 MONO0 < <("$PY" -c 'import time; print(time.time(), time.monotonic())')
export DISPATCH_MIDNIGHT_LEAD="$LEAD" DISPATCH_MIDNIGHT_CLOCK="$CLOCK" \
  DISPATCH_MIDNIGHT_REAL0="$REAL0" DISPATCH_MIDNIGHT_MONO0="$MONO0" DISPATCH_PG_PORT="$PG_PORT"
export "${FAKE_ENV[@]}"
say "each module starts $LEAD s before local midnight"
LD_PRELOAD="$LIBFT" exec "$PY" -m pytest -p tests.support.midnight_clock "$@"
