# Sourced by scripts/test: what the web console's checks need: Debian's
# Chromium (headless, driven by playwright-core) with CJK fonts for the zh-CN
# screenshots of the end-to-end tests (scripts/e2e), and the console's npm
# packages from the lock file (also tsc, ESLint and openapi-typescript for
# the type check, the lint and scripts/gen-types --check).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = "0" ]; then
  echo "setup web: installing chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null ||
    echo "setup web: could not install chromium; the e2e tests will SKIP (or fail in CI)"
fi
if command -v npm >/dev/null && [ -f web/package-lock.json ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error) || echo "setup web: npm ci failed"
fi
