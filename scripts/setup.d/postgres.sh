# Sourced by scripts/test: a throw-away PostgreSQL for the state tests and
# serve's PostgreSQL integration test (TAISHI_TEST_PG). Debian's `postgresql`
# is installed when `initdb` is missing; the cluster lives in a temp dir,
# listens on 127.0.0.1 only, on a fixed unusual port, and is stopped when
# the sourcing shell exits. Sourcing it twice reuses the running cluster.
taishi_pg_setup() {
  local port="${TAISHI_TEST_PG_PORT:-54329}"
  if [ -n "${TAISHI_TEST_PG:-}" ] && [ -n "${TAISHI_PG_DIR:-}" ] && [ -d "$TAISHI_PG_DIR" ]; then
    echo "setup postgres: already running ($TAISHI_PG_DIR)"
    return 0
  fi
  local bindir=""
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && bindir="$d"
  done
  if [ -z "$bindir" ] && ! command -v initdb >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = "0" ]; then
      echo "setup postgres: installing Debian's postgresql"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null ||
        { echo "setup postgres: could not install postgresql; PostgreSQL tests will SKIP (or fail in CI)"; return 0; }
      for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && bindir="$d"
      done
    else
      echo "setup postgres: no initdb and no apt-get as root; PostgreSQL tests will SKIP (or fail in CI)"
      return 0
    fi
  fi
  [ -n "$bindir" ] || bindir="$(dirname "$(command -v initdb)")"
  # PostgreSQL refuses to run as root: the cluster belongs to `postgres`.
  local run=()
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    run=(runuser -u postgres --)
  fi
  local dir
  dir="$(mktemp -d /tmp/taishi-pg.XXXXXX)"
  chmod 755 "$dir"
  [ "$(id -u)" = "0" ] && chown postgres "$dir"
  local user=taishi pass
  pass="t$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  printf '%s\n' "$pass" >"$dir/pw"
  [ "$(id -u)" = "0" ] && chown postgres "$dir/pw"
  if ! "${run[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 \
    --locale=C >"$dir/initdb.log" 2>&1; then
    echo "setup postgres: initdb failed (see $dir/initdb.log); PostgreSQL tests will SKIP (or fail in CI)"
    return 0
  fi
  # Password logins over TCP (what Taishi uses); trust only on the socket,
  # which sits in the temp dir, for creating the role below.
  printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' >"$dir/data/pg_hba.conf"
  if ! "${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null; then
    echo "setup postgres: the server did not start (see $dir/server.log); PostgreSQL tests will SKIP (or fail in CI)"
    return 0
  fi
  if ! "${run[@]}" "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE $user LOGIN SUPERUSER PASSWORD '$pass'" >/dev/null; then
    echo "setup postgres: could not create the test role; PostgreSQL tests will SKIP (or fail in CI)"
    "${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
    return 0
  fi
  export TAISHI_PG_DIR="$dir" TAISHI_PG_BIN="$bindir"
  export TAISHI_TEST_PG="postgres://$user:$pass@127.0.0.1:$port/postgres"
  echo "setup postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
  # Stop it when the test script ends, after whatever EXIT trap was there.
  local prev
  prev="$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")"
  # shellcheck disable=SC2064
  trap "${prev:+$prev; }taishi_pg_stop" EXIT
}
taishi_pg_stop() {
  [ -n "${TAISHI_PG_DIR:-}" ] && [ -d "$TAISHI_PG_DIR/data" ] || return 0
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$TAISHI_PG_BIN/pg_ctl" -D "$TAISHI_PG_DIR/data" -m immediate stop >/dev/null 2>&1
  else
    "$TAISHI_PG_BIN/pg_ctl" -D "$TAISHI_PG_DIR/data" -m immediate stop >/dev/null 2>&1
  fi
  rm -rf "$TAISHI_PG_DIR"
  unset TAISHI_PG_DIR TAISHI_TEST_PG
}
taishi_pg_setup
