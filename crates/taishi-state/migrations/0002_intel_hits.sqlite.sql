-- Intel alerts by indicator value, so hits per indicator are counted from an
-- index rather than from the alert bodies; filled from the alerts already
-- held (a database made before the table existed).
CREATE TABLE IF NOT EXISTS intel_hits(
  alert_id TEXT PRIMARY KEY, indicator TEXT NOT NULL, type TEXT, source TEXT, ts INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS intel_hits_indicator ON intel_hits(indicator, ts);
INSERT OR IGNORE INTO intel_hits(alert_id, indicator, type, source, ts)
SELECT id, json_extract(body, '$.summary.indicator'), json_extract(body, '$.summary."indicator.type"'),
       json_extract(body, '$.summary."intel.source"'), ts
FROM alerts WHERE kind = 'intel' AND json_extract(body, '$.summary.indicator') IS NOT NULL;
