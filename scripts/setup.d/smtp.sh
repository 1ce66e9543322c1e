# taishi-alert's SMTP tests deliver to a real SMTP sink: Python's aiosmtpd
# (plain, STARTTLS and implicit TLS), started by the tests themselves.
if command -v python3 >/dev/null 2>&1; then
  if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check 'aiosmtpd>=1.4,<2' \
      || echo "warning: could not install aiosmtpd; the SMTP tests will fail under TAISHI_REQUIRE_TEST_DATA=1"
  fi
else
  echo "warning: python3 not found; the SMTP tests will fail under TAISHI_REQUIRE_TEST_DATA=1"
fi
