//! Risk assessment (issue 15), second part: the NVD records imported (the
//! feed matching reads), the pairs of assets an analyst split apart (so the
//! register never merges them again, also after a restart) and the log of
//! merges and splits by hand (who, when, why).

use std::collections::HashSet;

use serde::Serialize;

use crate::db::Value;
use crate::risk::FindingRow;
use crate::{now_iso, Result, State, StateError};

/// One NVD record to store: its id, NVD's `lastModified`, and the trimmed
/// record as JSON.
#[derive(Debug, Clone)]
pub struct NvdRecord {
    pub cve: String,
    pub last_modified: Option<String>,
    pub doc: String,
}

/// What storing NVD records changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NvdChange {
    /// Records new to the state.
    pub added: usize,
    /// Records replaced (the same CVE imported again).
    pub replaced: usize,
    /// Records stored after the import.
    pub total: usize,
}

/// A merge or a split by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AssetChangeRow {
    pub id: String,
    pub org: String,
    /// merge: the asset kept; split: the asset split.
    pub asset_id: i64,
    /// merge: the asset folded in (gone); split: the new asset.
    pub other_id: i64,
    /// merge or split.
    pub change: String,
    /// Who did it.
    pub by: String,
    /// Why (the analyst's words).
    pub reason: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// split: the identities moved to the new asset.
    pub identities: Vec<String>,
}

impl State {
    /// Stores NVD records (a CVE imported again replaces its record),
    /// refusing an import that would leave more than `max_total` records.
    pub fn put_nvd_records(&self, records: &[NvdRecord], max_total: usize) -> Result<NvdChange> {
        let now = now_iso();
        self.db().transaction(|tx| {
            let known: HashSet<String> = tx
                .query_map("SELECT cve FROM risk_nvd_records", &[], |r| r.get(0))?
                .into_iter()
                .collect();
            let fresh: HashSet<&str> = records
                .iter()
                .map(|r| r.cve.as_str())
                .filter(|c| !known.contains(*c))
                .collect();
            let total = known.len() + fresh.len();
            if total > max_total {
                return Err(StateError::Invalid(format!(
                    "NVD records: {total} would be stored, over the limit of {max_total} / NVD 记录将达 {total} 条，超过上限 {max_total}"
                )));
            }
            for r in records {
                tx.execute(
                    "INSERT INTO risk_nvd_records(cve, last_modified, updated, doc) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT(cve) DO UPDATE SET last_modified = excluded.last_modified, \
                     updated = excluded.updated, doc = excluded.doc",
                    params![&r.cve, &r.last_modified, &now, &r.doc],
                )?;
            }
            Ok(NvdChange {
                added: fresh.len(),
                replaced: records.len() - fresh.len().min(records.len()),
                total,
            })
        })
    }

    /// Every stored NVD record (the matching index is built from them).
    pub fn nvd_docs(&self) -> Result<Vec<String>> {
        Ok(self
            .reader()
            .query_map("SELECT doc FROM risk_nvd_records ORDER BY cve", &[], |r| {
                r.get(0)
            })?)
    }

    /// The newest `lastModified` of the stored records (NVD's format,
    /// UTC without a zone): where an incremental pull starts.
    pub fn nvd_last_modified(&self) -> Result<Option<String>> {
        Ok(self.reader().query_row(
            "SELECT max(last_modified) FROM risk_nvd_records",
            &[],
            |r| r.get(0),
        )?)
    }

    /// How many NVD records are stored.
    pub fn nvd_count(&self) -> Result<usize> {
        let n: i64 =
            self.reader()
                .query_row("SELECT count(*) FROM risk_nvd_records", &[], |r| r.get(0))?;
        Ok(n.max(0) as usize)
    }

    /// The findings that came from NVD matching (`scanners` is `nvd`) of
    /// an asset, whatever their status, with their documents.
    pub fn nvd_findings(&self, asset_id: i64) -> Result<Vec<(FindingRow, String)>> {
        self.findings_where(
            "scanners = 'nvd' AND asset_id = $1",
            &[Value::Int(asset_id)],
        )
    }

    /// Keeps two assets apart (an analyst split them).
    pub fn put_apart(&self, org: &str, a: i64, b: i64) -> Result<()> {
        self.db().execute(
            "INSERT INTO risk_assets_apart(org, a, b, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT(a, b) DO NOTHING",
            params![org, a.min(b), a.max(b), now_iso()],
        )?;
        Ok(())
    }

    /// Two assets are no longer kept apart (an analyst merged them).
    pub fn drop_apart(&self, a: i64, b: i64) -> Result<()> {
        self.db().execute(
            "DELETE FROM risk_assets_apart WHERE a = $1 AND b = $2",
            params![a.min(b), a.max(b)],
        )?;
        Ok(())
    }

    /// Every pair kept apart, each as (lower id, higher id).
    pub fn apart_pairs(&self) -> Result<Vec<(i64, i64)>> {
        Ok(self.reader().query_map(
            "SELECT a, b FROM risk_assets_apart ORDER BY a, b",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Records a merge or split by hand.
    pub fn add_asset_change(&self, c: &AssetChangeRow) -> Result<()> {
        let identities =
            serde_json::to_string(&c.identities).map_err(|e| StateError::Invalid(e.to_string()))?;
        self.db().execute(
            "INSERT INTO risk_asset_changes(id, org, asset_id, other_id, change, by_user, reason, at, identities) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            params![
                &c.id,
                &c.org,
                c.asset_id,
                c.other_id,
                &c.change,
                &c.by,
                &c.reason,
                &c.at,
                identities
            ],
        )?;
        Ok(())
    }

    /// The merges and splits an asset took part in, newest first.
    pub fn asset_changes(&self, asset_id: i64) -> Result<Vec<AssetChangeRow>> {
        Ok(self.reader().query_map(
            "SELECT id, org, asset_id, other_id, change, by_user, reason, at, identities \
             FROM risk_asset_changes WHERE asset_id = $1 OR other_id = $1 ORDER BY at DESC, id LIMIT 200",
            params![asset_id],
            |r| {
                Ok(AssetChangeRow {
                    id: r.get(0)?,
                    org: r.get(1)?,
                    asset_id: r.get(2)?,
                    other_id: r.get(3)?,
                    change: r.get(4)?,
                    by: r.get(5)?,
                    reason: r.get(6)?,
                    at: r.get(7)?,
                    identities: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
                })
            },
        )?)
    }
}
