# Sourced by scripts/test: a throw-away MariaDB for `taishi pii scan
# mysql://…` (taishi-pii-scan's database test reads TAISHI_TEST_MYSQL).
# Debian's `mariadb-server` is installed when `mariadbd` is missing; the
# datadir lives in a temp dir, the server listens on 127.0.0.1 only, on a
# fixed unusual port, and is stopped when the sourcing shell exits.
# Sourcing it twice reuses the running server.
taishi_mariadb_setup() {
  local port="${TAISHI_TEST_MYSQL_PORT:-33069}"
  if [ -n "${TAISHI_TEST_MYSQL:-}" ] && [ -n "${TAISHI_MARIADB_DIR:-}" ] && [ -d "$TAISHI_MARIADB_DIR" ]; then
    echo "setup mariadb: already running ($TAISHI_MARIADB_DIR)"
    return 0
  fi
  local mariadbd
  mariadbd="$(command -v mariadbd || ls /usr/sbin/mariadbd 2>/dev/null || true)"
  if [ -z "$mariadbd" ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = "0" ]; then
      echo "setup mariadb: installing Debian's mariadb-server"
      # The package's own service is not wanted: policy-rc.d keeps it from starting.
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null ||
        { echo "setup mariadb: could not install mariadb-server; MariaDB tests will SKIP (or fail in CI)"; return 0; }
      mariadbd="$(command -v mariadbd || ls /usr/sbin/mariadbd 2>/dev/null || true)"
    else
      echo "setup mariadb: no mariadbd and no apt-get as root; MariaDB tests will SKIP (or fail in CI)"
      return 0
    fi
  fi
  [ -n "$mariadbd" ] || { echo "setup mariadb: no mariadbd; MariaDB tests will SKIP (or fail in CI)"; return 0; }
  local dir user=taishi pass
  dir="$(mktemp -d /tmp/taishi-mariadb.XXXXXX)"
  chmod 755 "$dir"
  pass="t$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  # As root the server runs as `mysql` (the package creates that user).
  local as=()
  if [ "$(id -u)" = "0" ]; then
    id mysql >/dev/null 2>&1 || useradd --system --no-create-home mysql
    chown mysql "$dir"
    as=(--user=mysql)
  fi
  if ! mariadb-install-db "${as[@]}" --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db >"$dir/install.log" 2>&1; then
    echo "setup mariadb: mariadb-install-db failed (see $dir/install.log); MariaDB tests will SKIP (or fail in CI)"
    return 0
  fi
  "$mariadbd" --no-defaults "${as[@]}" --datadir="$dir/data" --bind-address=127.0.0.1 --port="$port" \
    --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --skip-name-resolve \
    --innodb-flush-log-at-trx-commit=0 --log-error="$dir/server.log" >/dev/null 2>&1 &
  local i
  for i in $(seq 1 60); do
    mariadb --no-defaults -S "$dir/mysqld.sock" -u root -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.5
  done
  if ! mariadb --no-defaults -S "$dir/mysqld.sock" -u root -e \
    "CREATE DATABASE taishi_test; CREATE USER '$user'@'127.0.0.1' IDENTIFIED BY '$pass'; GRANT ALL ON *.* TO '$user'@'127.0.0.1'" \
    >/dev/null 2>"$dir/setup.err"; then
    echo "setup mariadb: the server did not start or refused the test user (see $dir/server.log); MariaDB tests will SKIP (or fail in CI)"
    [ -f "$dir/mysqld.pid" ] && kill "$(cat "$dir/mysqld.pid")" 2>/dev/null
    return 0
  fi
  export TAISHI_MARIADB_DIR="$dir"
  export TAISHI_TEST_MYSQL="mysql://$user:$pass@127.0.0.1:$port/taishi_test"
  echo "setup mariadb: $("$mariadbd" --version | awk '{print $3}') on 127.0.0.1:$port"
  local prev
  prev="$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")"
  # shellcheck disable=SC2064
  trap "${prev:+$prev; }taishi_mariadb_stop" EXIT
}
taishi_mariadb_stop() {
  [ -n "${TAISHI_MARIADB_DIR:-}" ] && [ -d "$TAISHI_MARIADB_DIR" ] || return 0
  if [ -f "$TAISHI_MARIADB_DIR/mysqld.pid" ]; then
    local pid
    pid="$(cat "$TAISHI_MARIADB_DIR/mysqld.pid")"
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -rf "$TAISHI_MARIADB_DIR"
  unset TAISHI_MARIADB_DIR TAISHI_TEST_MYSQL
}
taishi_mariadb_setup
