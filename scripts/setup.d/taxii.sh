# taishi-intel's TAXII 2.1 test runs OASIS's reference server, medallion.
if ! python3 -c "import medallion" 2>/dev/null; then
  python3 -m pip install --quiet medallion || echo "setup.d/taxii.sh: could not install medallion (TAXII test will SKIP)"
fi
