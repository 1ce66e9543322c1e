-- The audit trail in the state database (`SqlAuditStore`): each record is
-- kept as the canonical JSON line the file store writes, keyed by its
-- sequence number; checkpoints in the order they were signed (rowid).
CREATE TABLE audit_records(seq INTEGER PRIMARY KEY, line TEXT NOT NULL);
CREATE TABLE audit_checkpoints(seq INTEGER NOT NULL, line TEXT NOT NULL);
