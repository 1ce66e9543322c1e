# PDF reports (taishi-report) are set in a CJK font found at run time, and
# the drill test (crates/taishi-serve/tests/drill.rs) reads the PDF's text
# back with poppler's pdftotext: Debian's fonts-noto-cjk and poppler-utils.
need=""
fc-list :lang=zh 2>/dev/null | grep -q . || [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need="fonts-noto-cjk"
command -v pdftotext >/dev/null 2>&1 || need="$need poppler-utils"
if [ -n "$need" ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = "0" ]; then
    echo "setup fonts: installing $need"
    # shellcheck disable=SC2086 # the list is meant to split
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null; } ||
      echo "setup fonts: could not install $need; the PDF report tests will SKIP (or fail in CI)"
  else
    echo "setup fonts: $need missing and no apt-get as root; the PDF report tests will SKIP (or fail in CI)"
  fi
fi
