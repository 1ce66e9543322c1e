//! Taishi's threat-intelligence indicator store: STIX 2.1, TAXII 2.1, MISP and abuse.ch importers, warninglists, line-rate matching
