-- The audit trail in the state database (see the SQLite variant); the
-- `rowid` identity column keeps the checkpoints' order the SQLite way.
CREATE TABLE audit_records(seq BIGINT PRIMARY KEY, line TEXT NOT NULL);
CREATE TABLE audit_checkpoints(
  rowid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, seq BIGINT NOT NULL, line TEXT NOT NULL);
