//! Taishi's enrichment stage: GeoIP and ASN from MaxMind databases
