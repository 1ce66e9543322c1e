-- Intel alerts by indicator value (see the SQLite variant); the backfill
-- reads the alert bodies as JSON.
CREATE TABLE intel_hits(
  alert_id TEXT PRIMARY KEY, indicator TEXT NOT NULL, type TEXT, source TEXT, ts BIGINT NOT NULL);
CREATE INDEX intel_hits_indicator ON intel_hits(indicator, ts);
INSERT INTO intel_hits(alert_id, indicator, type, source, ts)
SELECT id, body::jsonb #>> '{summary,indicator}', body::jsonb #>> '{summary,indicator.type}',
       body::jsonb #>> '{summary,intel.source}', ts
FROM alerts WHERE kind = 'intel' AND body::jsonb #>> '{summary,indicator}' IS NOT NULL
ON CONFLICT DO NOTHING;
