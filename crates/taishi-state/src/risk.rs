//! Risk assessment (issue 15): assets (the register's documents and an
//! identity index), vulnerability findings with their remediation, the
//! score history, early warnings and the KEV/EPSS feeds. The models are the
//! pure crates' (`taishi_asset`, `taishi_vuln`, `taishi_risk`), kept as JSON
//! documents; this module stores, indexes and lists them. Every row has its
//! organisation; the feeds are the platform's (`root`).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{DbError, Row, Value};
use crate::orgs::Scope;
use crate::{now_iso, Result, State, StateError, ROOT_ORG};

/// Largest page of a list.
pub const MAX_PAGE: usize = 500;
/// Longest filter value taken.
const MAX_FILTER_CHARS: usize = 256;
/// Score rows kept per asset (the oldest go first).
pub const MAX_SCORES_PER_ASSET: i64 = 1_000;

fn invalid(m: String) -> StateError {
    StateError::Invalid(m)
}

fn filter_text(field: &str, v: &Option<String>) -> Result<Option<String>> {
    match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > MAX_FILTER_CHARS => Err(invalid(format!(
            "{field}: at most {MAX_FILTER_CHARS} characters / {field}：最多 {MAX_FILTER_CHARS} 个字符"
        ))),
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// An asset as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AssetRow {
    pub id: i64,
    pub org: String,
    pub name: Option<String>,
    pub business_system: Option<String>,
    /// low, medium, high, critical.
    pub importance: Option<String>,
    pub cii: bool,
    /// Ports reachable from outside.
    pub exposed_ports: i64,
    /// The latest risk score (0–100).
    pub score: f64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub updated: String,
}

pub(crate) const ASSET_COLUMNS: &str =
    "id, org, name, business_system, importance, cii, exposed_ports, score, \
                             first_seen, last_seen, updated";

pub(crate) fn row_asset(r: &Row) -> std::result::Result<AssetRow, DbError> {
    Ok(AssetRow {
        id: r.get(0)?,
        org: r.get(1)?,
        name: r.get(2)?,
        business_system: r.get(3)?,
        importance: r.get(4)?,
        cii: r.get(5)?,
        exposed_ports: r.get(6)?,
        score: r.get(7)?,
        first_seen: r.get(8)?,
        last_seen: r.get(9)?,
        updated: r.get(10)?,
    })
}

/// Which assets a list shows.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct AssetFilter {
    pub business_system: Option<String>,
    /// An identity (`ip:10.0.0.5`, `host:web01`) or a bare address or name.
    pub identity: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// A finding as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FindingRow {
    pub id: String,
    pub org: String,
    pub asset_id: i64,
    /// The CVE, else the scanner's check id.
    pub vuln: String,
    pub cve: Option<String>,
    /// `tcp/22`, `pkg:…`, `host`.
    pub location: String,
    /// info, low, medium, high, critical.
    pub severity: String,
    /// Scanners that reported it, comma-separated.
    pub scanners: String,
    pub kev: bool,
    /// In KEV or a public exploit.
    pub exploitable: bool,
    /// 0–100 (taishi-vuln's priority).
    pub priority: f64,
    /// The SSVC decision: defer, scheduled, out-of-cycle, immediate.
    pub decision: String,
    /// open, in_progress, accepted, fixed, false_positive.
    pub status: String,
    pub approver: Option<String>,
    /// Accepted risk: until when (RFC 3339).
    pub accepted_until: Option<String>,
    /// Remediation deadline (RFC 3339).
    pub deadline: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub updated: String,
}

pub(crate) const FINDING_COLUMNS: &str =
    "id, org, asset_id, vuln, cve, location, severity, scanners, kev, \
                               exploitable, priority, decision, status, approver, accepted_until, \
                               deadline, first_seen, last_seen, updated";

pub(crate) fn row_finding(r: &Row) -> std::result::Result<FindingRow, DbError> {
    Ok(FindingRow {
        id: r.get(0)?,
        org: r.get(1)?,
        asset_id: r.get(2)?,
        vuln: r.get(3)?,
        cve: r.get(4)?,
        location: r.get(5)?,
        severity: r.get(6)?,
        scanners: r.get(7)?,
        kev: r.get(8)?,
        exploitable: r.get(9)?,
        priority: r.get(10)?,
        decision: r.get(11)?,
        status: r.get(12)?,
        approver: r.get(13)?,
        accepted_until: r.get(14)?,
        deadline: r.get(15)?,
        first_seen: r.get(16)?,
        last_seen: r.get(17)?,
        updated: r.get(18)?,
    })
}

fn row_finding_doc(r: &Row) -> std::result::Result<(FindingRow, String), DbError> {
    Ok((row_finding(r)?, r.get(19)?))
}

/// Which findings a list shows (KEV first, then by priority).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct FindingFilter {
    pub cve: Option<String>,
    pub asset: Option<i64>,
    /// One status, or `unresolved` (open, in progress, accepted).
    pub status: Option<String>,
    /// Only findings in KEV.
    pub kev: Option<bool>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// One score of an asset's history.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ScoreRow {
    pub org: String,
    pub asset_id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub score: f64,
    /// `taishi_risk::RiskScore` as JSON: the number recomputes from it.
    pub factors: String,
    /// import, scan, feed, alert, status.
    pub reason: String,
}

fn row_score(r: &Row) -> std::result::Result<ScoreRow, DbError> {
    Ok(ScoreRow {
        org: r.get(0)?,
        asset_id: r.get(1)?,
        at: r.get(2)?,
        score: r.get(3)?,
        factors: r.get(4)?,
        reason: r.get(5)?,
    })
}

/// An early warning as stored.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WarningRow {
    pub id: String,
    pub org: String,
    pub dedup_key: String,
    /// red, orange, yellow, blue.
    pub level: String,
    pub kind: String,
    pub asset_id: i64,
    pub cve: Option<String>,
    /// open, acknowledged, closed.
    pub status: String,
    pub created: String,
    pub updated: String,
    /// `taishi_risk::Warning` as JSON (title, text, action in zh-CN and English).
    pub doc: String,
}

pub(crate) fn row_warning(r: &Row) -> std::result::Result<WarningRow, DbError> {
    Ok(WarningRow {
        id: r.get(0)?,
        org: r.get(1)?,
        dedup_key: r.get(2)?,
        level: r.get(3)?,
        kind: r.get(4)?,
        asset_id: r.get(5)?,
        cve: r.get(6)?,
        status: r.get(7)?,
        created: r.get(8)?,
        updated: r.get(9)?,
        doc: r.get(10)?,
    })
}

pub(crate) const WARNING_COLUMNS: &str =
    "id, org, dedup_key, level, kind, asset_id, cve, status, created, updated, doc";

/// Which warnings a list shows (highest level first, newest first).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct WarningFilter {
    /// This level and above: blue, yellow, orange, red.
    pub level: Option<String>,
    pub asset: Option<i64>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// A new warning.
#[derive(Debug, Clone)]
pub struct NewWarning {
    pub org: String,
    pub dedup_key: String,
    pub level: String,
    /// 0 blue … 3 red.
    pub level_rank: i64,
    pub kind: String,
    pub asset_id: i64,
    pub cve: Option<String>,
    pub doc: String,
}

/// One feed entry: KEV (ransomware) or EPSS (probability, percentile).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub cve: String,
    pub ransomware: bool,
    pub epss: Option<f64>,
    pub percentile: Option<f64>,
}

/// What a feed import changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedChange {
    /// CVEs that were not in the feed before (KEV).
    pub added: Vec<String>,
    /// CVEs whose EPSS changed: (cve, before, after).
    pub changed: Vec<(String, Option<f64>, f64)>,
    pub total: usize,
}

/// What the feeds say of one CVE: in KEV (with known ransomware use), and
/// its EPSS (probability, percentile).
pub type FeedOf = (Option<bool>, Option<(f64, f64)>);

/// A finding's id: the same finding (organisation and finding key) from
/// any scanner or scan has the same one.
pub fn finding_id(org: &str, key: &str) -> String {
    let d = Sha256::digest(format!("{org}\n{key}").as_bytes());
    d[..12].iter().map(|b| format!("{b:02x}")).collect()
}

fn page(limit: Option<usize>, offset: Option<usize>) -> (usize, usize) {
    (
        limit.unwrap_or(50).clamp(1, MAX_PAGE),
        offset.unwrap_or(0).min(1_000_000),
    )
}

impl State {
    /// One page of `table`'s rows matching `w` (with its parameters `p`) in
    /// `order`, and how many match in all.
    #[allow(clippy::too_many_arguments)]
    fn paged<T>(
        &self,
        table: &str,
        columns: &str,
        w: &str,
        p: &[Value],
        order: &str,
        (limit, offset): (Option<usize>, Option<usize>),
        row: impl FnMut(&Row) -> std::result::Result<T, DbError>,
    ) -> Result<(u64, Vec<T>)> {
        let (limit, offset) = page(limit, offset);
        let mut db = self.reader();
        let total: i64 =
            db.query_row(&format!("SELECT count(*) FROM {table} WHERE {w}"), p, |r| {
                r.get(0)
            })?;
        let items = db.query_map(
            &format!(
                "SELECT {columns} FROM {table} WHERE {w} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            ),
            p,
            row,
        )?;
        Ok((total.max(0) as u64, items))
    }

    /// Writes an asset (new or changed) with its identities.
    pub fn put_asset(&self, a: &AssetRow, identities: &[String], doc: &str) -> Result<()> {
        self.db().transaction(|tx| {
            tx.execute(
                "INSERT INTO risk_assets(id, org, name, business_system, importance, cii, exposed_ports, \
                 score, first_seen, last_seen, updated, doc) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT(id) DO UPDATE SET org = excluded.org, name = excluded.name, \
                 business_system = excluded.business_system, importance = excluded.importance, \
                 cii = excluded.cii, exposed_ports = excluded.exposed_ports, \
                 first_seen = excluded.first_seen, last_seen = excluded.last_seen, \
                 updated = excluded.updated, doc = excluded.doc",
                params![
                    a.id,
                    &a.org,
                    &a.name,
                    &a.business_system,
                    &a.importance,
                    a.cii as i64,
                    a.exposed_ports,
                    a.score,
                    &a.first_seen,
                    &a.last_seen,
                    &a.updated,
                    doc
                ],
            )?;
            tx.execute(
                "DELETE FROM risk_asset_identities WHERE asset_id = $1",
                params![a.id],
            )?;
            for i in identities {
                tx.execute(
                    "INSERT INTO risk_asset_identities(org, identity, asset_id) VALUES ($1, $2, $3) \
                     ON CONFLICT(org, identity, asset_id) DO NOTHING",
                    params![&a.org, i, a.id],
                )?;
            }
            Ok::<_, StateError>(())
        })
    }

    /// An asset merged into another: its row and identities go, its
    /// findings and score history move to `into`.
    pub fn merge_asset_rows(&self, from: i64, into: i64) -> Result<()> {
        self.db().transaction(|tx| {
            tx.execute(
                "UPDATE risk_findings SET asset_id = $1 WHERE asset_id = $2",
                params![into, from],
            )?;
            tx.execute(
                "UPDATE risk_scores SET asset_id = $1 WHERE asset_id = $2",
                params![into, from],
            )?;
            tx.execute(
                "UPDATE risk_warnings SET asset_id = $1 WHERE asset_id = $2",
                params![into, from],
            )?;
            tx.execute(
                "UPDATE risk_asset_attacks SET asset_id = $1 WHERE asset_id = $2 AND alert_id NOT IN \
                 (SELECT alert_id FROM risk_asset_attacks WHERE asset_id = $1)",
                params![into, from],
            )?;
            tx.execute(
                "DELETE FROM risk_asset_attacks WHERE asset_id = $1",
                params![from],
            )?;
            tx.execute(
                "DELETE FROM risk_asset_identities WHERE asset_id = $1",
                params![from],
            )?;
            tx.execute("DELETE FROM risk_assets WHERE id = $1", params![from])?;
            Ok::<_, StateError>(())
        })
    }

    /// Every asset document, of every organisation (the register is
    /// rebuilt from them at start).
    pub fn all_asset_docs(&self) -> Result<Vec<String>> {
        Ok(self
            .reader()
            .query_map("SELECT doc FROM risk_assets ORDER BY id", params![], |r| {
                r.get(0)
            })?)
    }

    /// One asset and its document, if in `scope`.
    pub fn asset(&self, id: i64, scope: &Scope) -> Result<(AssetRow, String)> {
        let (w, mut p) = scope.sql("org");
        p.push(Value::Int(id));
        self.reader()
            .query_map(
                &format!(
                    "SELECT {ASSET_COLUMNS}, doc FROM risk_assets WHERE {w} AND id = ${}",
                    p.len()
                ),
                &p,
                |r| Ok((row_asset(r)?, r.get::<_, String>(11)?)),
            )?
            .into_iter()
            .next()
            .ok_or_else(|| StateError::NotFound(format!("no asset {id} / 没有资产 {id}")))
    }

    /// A page of assets in `scope`, highest score first, and how many match.
    pub fn assets(&self, f: &AssetFilter, scope: &Scope) -> Result<(u64, Vec<AssetRow>)> {
        let (mut w, mut p) = scope.sql("org");
        if let Some(b) = filter_text("business_system", &f.business_system)? {
            p.push(Value::Text(b));
            w.push_str(&format!(" AND business_system = ${}", p.len()));
        }
        if let Some(i) = filter_text("identity", &f.identity)? {
            let i =
                if i.contains(':') && !i.contains("::") && i.parse::<std::net::IpAddr>().is_err() {
                    i.to_lowercase()
                } else if i.parse::<std::net::IpAddr>().is_ok() {
                    format!("ip:{i}")
                } else if i.contains('.') {
                    format!("fqdn:{}", i.to_lowercase())
                } else {
                    format!("host:{}", i.to_lowercase())
                };
            p.push(Value::Text(i));
            w.push_str(&format!(
                " AND id IN (SELECT asset_id FROM risk_asset_identities WHERE identity = ${})",
                p.len()
            ));
        }
        self.paged(
            "risk_assets",
            ASSET_COLUMNS,
            &w,
            &p,
            "score DESC, id",
            (f.limit, f.offset),
            row_asset,
        )
    }

    /// Every asset row in `scope` (the ranking; bounded by the caller's
    /// organisation's register).
    pub fn asset_rows(&self, scope: &Scope, limit: usize) -> Result<Vec<AssetRow>> {
        let (w, p) = scope.sql("org");
        Ok(self.reader().query_map(
            &format!(
                "SELECT {ASSET_COLUMNS} FROM risk_assets WHERE {w} ORDER BY score DESC, id LIMIT {limit}"
            ),
            &p,
            row_asset,
        )?)
    }

    /// The assets of `org` carrying an identity (`ip:…`, `host:…`, `fqdn:…`).
    pub fn assets_with_identity(&self, org: &str, identity: &str) -> Result<Vec<i64>> {
        Ok(self.reader().query_map(
            "SELECT asset_id FROM risk_asset_identities WHERE org = $1 AND identity = $2 ORDER BY asset_id",
            params![org, identity],
            |r| r.get(0),
        )?)
    }

    /// Stores a finding, new or seen again; says whether it is new. Seen
    /// again: its reports, priority and enrichment are replaced, its
    /// remediation kept, except that a fixed finding found again reopens;
    /// the deadline only ever comes closer.
    pub fn upsert_finding(&self, f: &FindingRow, doc: &str) -> Result<bool> {
        self.db().transaction(|tx| {
            let old: Vec<String> = tx.query_map(
                "SELECT status FROM risk_findings WHERE id = $1",
                params![&f.id],
                |r| r.get(0),
            )?;
            let p: &[Value] = params![
                &f.id,
                &f.org,
                f.asset_id,
                &f.vuln,
                &f.cve,
                &f.location,
                &f.severity,
                &f.scanners,
                f.kev as i64,
                f.exploitable as i64,
                f.priority,
                &f.decision,
                &f.status,
                &f.approver,
                &f.accepted_until,
                &f.deadline,
                &f.first_seen,
                &f.last_seen,
                &f.updated,
                doc
            ];
            match old.first() {
                None => {
                    tx.execute(
                        &format!(
                            "INSERT INTO risk_findings({FINDING_COLUMNS}, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                             $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
                        ),
                        p,
                    )?;
                    Ok(true)
                }
                Some(status) => {
                    let status = if status == "fixed" { "open" } else { status };
                    tx.execute(
                        "UPDATE risk_findings SET asset_id = $1, severity = $2, scanners = $3, kev = $4, \
                         exploitable = $5, priority = $6, decision = $7, status = $8, \
                         deadline = CASE WHEN deadline IS NULL OR $9 < deadline THEN $9 ELSE deadline END, \
                         last_seen = $10, updated = $11, doc = $12 WHERE id = $13",
                        params![
                            f.asset_id,
                            &f.severity,
                            &f.scanners,
                            f.kev as i64,
                            f.exploitable as i64,
                            f.priority,
                            &f.decision,
                            status,
                            &f.deadline,
                            &f.last_seen,
                            &f.updated,
                            doc,
                            &f.id
                        ],
                    )?;
                    Ok(false)
                }
            }
        })
    }

    /// One finding and its document, if in `scope`.
    pub fn finding(&self, id: &str, scope: &Scope) -> Result<(FindingRow, String)> {
        let (w, mut p) = scope.sql("org");
        p.push(Value::Text(id.into()));
        self.reader()
            .query_map(
                &format!(
                    "SELECT {FINDING_COLUMNS}, doc FROM risk_findings WHERE {w} AND id = ${}",
                    p.len()
                ),
                &p,
                row_finding_doc,
            )?
            .into_iter()
            .next()
            .ok_or_else(|| StateError::NotFound(format!("no finding `{id}` / 没有漏洞发现 `{id}`")))
    }

    /// A page of findings in `scope`: KEV first, then by priority.
    pub fn findings(&self, f: &FindingFilter, scope: &Scope) -> Result<(u64, Vec<FindingRow>)> {
        let (mut w, mut p) = scope.sql("org");
        if let Some(c) = filter_text("cve", &f.cve)? {
            p.push(Value::Text(c.to_ascii_uppercase()));
            w.push_str(&format!(" AND cve = ${}", p.len()));
        }
        if let Some(a) = f.asset {
            p.push(Value::Int(a));
            w.push_str(&format!(" AND asset_id = ${}", p.len()));
        }
        match filter_text("status", &f.status)?.as_deref() {
            None => {}
            Some("unresolved") => {
                w.push_str(" AND status IN ('open', 'in_progress', 'accepted')");
            }
            Some(s @ ("open" | "in_progress" | "accepted" | "fixed" | "false_positive")) => {
                p.push(Value::Text(s.into()));
                w.push_str(&format!(" AND status = ${}", p.len()));
            }
            Some(s) => {
                return Err(invalid(format!(
                    "status `{s}`: unresolved, open, in_progress, accepted, fixed or false_positive / 状态 `{s}` 无效"
                )))
            }
        }
        if f.kev == Some(true) {
            w.push_str(" AND kev != 0");
        }
        self.paged(
            "risk_findings",
            FINDING_COLUMNS,
            &w,
            &p,
            "kev DESC, priority DESC, id",
            (f.limit, f.offset),
            row_finding,
        )
    }

    /// Every finding of an asset, with its document.
    pub fn findings_of_asset(&self, asset_id: i64) -> Result<Vec<(FindingRow, String)>> {
        Ok(self.reader().query_map(
            &format!(
                "SELECT {FINDING_COLUMNS}, doc FROM risk_findings WHERE asset_id = $1 \
                 ORDER BY kev DESC, priority DESC, id"
            ),
            params![asset_id],
            row_finding_doc,
        )?)
    }

    /// The assets (organisation, id) with a finding that may be overdue at
    /// `now` (RFC 3339 in UTC, as deadlines are written): open or in
    /// progress past its deadline, or accepted (whether the acceptance ran
    /// out the caller checks on the parsed time, since an expiry is kept as
    /// the analyst wrote it). At most `limit`.
    pub fn assets_maybe_overdue(&self, now: &str, limit: usize) -> Result<Vec<(String, i64)>> {
        Ok(self.reader().query_map(
            &format!(
                "SELECT DISTINCT org, asset_id FROM risk_findings \
                 WHERE (status IN ('open', 'in_progress') AND deadline IS NOT NULL AND deadline < $1) \
                    OR (status = 'accepted' AND accepted_until IS NOT NULL) \
                 ORDER BY org, asset_id LIMIT {}",
                limit.min(1_000_000)
            ),
            params![now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// The findings (with their documents) a condition selects.
    pub(crate) fn findings_where(&self, w: &str, p: &[Value]) -> Result<Vec<(FindingRow, String)>> {
        Ok(self.reader().query_map(
            &format!("SELECT {FINDING_COLUMNS}, doc FROM risk_findings WHERE {w} ORDER BY id"),
            p,
            row_finding_doc,
        )?)
    }

    /// Every finding naming a CVE, of every organisation (a feed entry
    /// arrived).
    pub fn findings_with_cve(&self, cve: &str) -> Result<Vec<(FindingRow, String)>> {
        Ok(self.reader().query_map(
            &format!("SELECT {FINDING_COLUMNS}, doc FROM risk_findings WHERE cve = $1 ORDER BY id"),
            params![cve.to_ascii_uppercase()],
            row_finding_doc,
        )?)
    }

    /// The CVEs any finding names (to keep only the feed changes that
    /// matter).
    pub fn finding_cves(&self) -> Result<HashSet<String>> {
        Ok(self
            .reader()
            .query_map(
                "SELECT DISTINCT cve FROM risk_findings WHERE cve IS NOT NULL",
                params![],
                |r| r.get::<_, String>(0),
            )?
            .into_iter()
            .collect())
    }

    /// Sets a finding's remediation. `accepted` needs an approver and an
    /// expiry (RFC 3339); the others clear them.
    pub fn set_finding_status(
        &self,
        id: &str,
        scope: &Scope,
        status: &str,
        approver: Option<&str>,
        until: Option<&str>,
    ) -> Result<FindingRow> {
        if !matches!(
            status,
            "open" | "in_progress" | "accepted" | "fixed" | "false_positive"
        ) {
            return Err(invalid(format!(
                "status `{status}`: open, in_progress, accepted, fixed or false_positive / 状态 `{status}` 无效"
            )));
        }
        let (approver, until) = if status == "accepted" {
            match (approver, until) {
                (Some(a), Some(u)) if !a.trim().is_empty() => (Some(a), Some(u)),
                _ => {
                    return Err(invalid(
                        "an accepted risk needs an approver and an expiry / 接受风险须写明审批人和到期时间"
                            .into(),
                    ))
                }
            }
        } else {
            (None, None)
        };
        let (row, _) = self.finding(id, scope)?;
        self.db().execute(
            "UPDATE risk_findings SET status = $1, approver = $2, accepted_until = $3, updated = $4 WHERE id = $5",
            params![status, approver, until, now_iso(), id],
        )?;
        Ok(FindingRow {
            status: status.into(),
            approver: approver.map(str::to_string),
            accepted_until: until.map(str::to_string),
            ..row
        })
    }

    /// Appends a score to an asset's history and makes it the latest.
    pub fn add_score(&self, s: &ScoreRow) -> Result<()> {
        self.db().transaction(|tx| {
            tx.execute(
                "INSERT INTO risk_scores(org, asset_id, at, score, factors, reason) VALUES ($1, $2, $3, $4, $5, $6)",
                params![&s.org, s.asset_id, &s.at, s.score, &s.factors, &s.reason],
            )?;
            tx.execute(
                "UPDATE risk_assets SET score = $1 WHERE id = $2",
                params![s.score, s.asset_id],
            )?;
            let n: i64 = tx.query_row(
                "SELECT count(*) FROM risk_scores WHERE asset_id = $1",
                params![s.asset_id],
                |r| r.get(0),
            )?;
            if n > MAX_SCORES_PER_ASSET {
                tx.execute(
                    "DELETE FROM risk_scores WHERE asset_id = $1 AND at IN \
                     (SELECT at FROM risk_scores WHERE asset_id = $1 ORDER BY at LIMIT $2)",
                    params![s.asset_id, n - MAX_SCORES_PER_ASSET],
                )?;
            }
            Ok::<_, StateError>(())
        })
    }

    /// An asset's score history, newest first.
    pub fn scores(&self, asset_id: i64, limit: usize) -> Result<Vec<ScoreRow>> {
        Ok(self.reader().query_map(
            &format!(
                "SELECT org, asset_id, at, score, factors, reason FROM risk_scores WHERE asset_id = $1 \
                 ORDER BY at DESC LIMIT {}",
                limit.clamp(1, MAX_SCORES_PER_ASSET as usize)
            ),
            params![asset_id],
            row_score,
        )?)
    }

    /// Every stored score in `scope` (the recompute check), at most `limit`.
    pub fn all_scores(&self, scope: &Scope, limit: usize) -> Result<Vec<ScoreRow>> {
        let (w, p) = scope.sql("org");
        Ok(self.reader().query_map(
            &format!(
                "SELECT org, asset_id, at, score, factors, reason FROM risk_scores WHERE {w} \
                 ORDER BY asset_id, at LIMIT {limit}"
            ),
            &p,
            row_score,
        )?)
    }

    /// Stores a warning unless one with its dedup key exists in its
    /// organisation; the stored row when it is new.
    pub fn raise_warning(&self, w: &NewWarning) -> Result<Option<WarningRow>> {
        let now = now_iso();
        let id = finding_id(&w.org, &w.dedup_key);
        let n = self.db().execute(
            "INSERT INTO risk_warnings(id, org, dedup_key, level, level_rank, kind, asset_id, cve, status, \
             created, updated, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $9, $10) \
             ON CONFLICT DO NOTHING",
            params![
                &id,
                &w.org,
                &w.dedup_key,
                &w.level,
                w.level_rank,
                &w.kind,
                w.asset_id,
                &w.cve,
                &now,
                &w.doc
            ],
        )?;
        Ok((n > 0).then(|| WarningRow {
            id,
            org: w.org.clone(),
            dedup_key: w.dedup_key.clone(),
            level: w.level.clone(),
            kind: w.kind.clone(),
            asset_id: w.asset_id,
            cve: w.cve.clone(),
            status: "open".into(),
            created: now.clone(),
            updated: now,
            doc: w.doc.clone(),
        }))
    }

    /// A page of warnings in `scope`: highest level first, newest first.
    pub fn warnings(&self, f: &WarningFilter, scope: &Scope) -> Result<(u64, Vec<WarningRow>)> {
        let (mut w, mut p) = scope.sql("org");
        if let Some(l) = filter_text("level", &f.level)? {
            let rank = ["blue", "yellow", "orange", "red"]
                .iter()
                .position(|x| *x == l)
                .ok_or_else(|| {
                    invalid(format!(
                        "level `{l}`: blue, yellow, orange or red / 级别 `{l}`：蓝、黄、橙或红"
                    ))
                })?;
            p.push(Value::Int(rank as i64));
            w.push_str(&format!(" AND level_rank >= ${}", p.len()));
        }
        if let Some(a) = f.asset {
            p.push(Value::Int(a));
            w.push_str(&format!(" AND asset_id = ${}", p.len()));
        }
        self.paged(
            "risk_warnings",
            WARNING_COLUMNS,
            &w,
            &p,
            "level_rank DESC, created DESC, id",
            (f.limit, f.offset),
            row_warning,
        )
    }

    /// Replaces a feed's entries (`kev` or `epss`); says what is new (KEV)
    /// and what changed (EPSS).
    pub fn put_feed(&self, kind: &str, entries: &[FeedEntry]) -> Result<FeedChange> {
        if !matches!(kind, "kev" | "epss") {
            return Err(invalid(format!("feed `{kind}`: kev or epss")));
        }
        let now = now_iso();
        self.db().transaction(|tx| {
            let old: HashMap<String, Option<f64>> = tx
                .query_map(
                    "SELECT cve, epss FROM risk_feed_entries WHERE kind = $1",
                    params![kind],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<f64>>(1)?)),
                )?
                .into_iter()
                .collect();
            let mut change = FeedChange {
                total: entries.len(),
                ..FeedChange::default()
            };
            for e in entries {
                let cve = e.cve.to_ascii_uppercase();
                match old.get(&cve) {
                    None => change.added.push(cve.clone()),
                    Some(before) => {
                        if let (Some(after), b) = (e.epss, *before) {
                            if b != Some(after) {
                                change.changed.push((cve.clone(), b, after));
                            }
                        }
                    }
                }
                if kind == "epss" && !old.contains_key(&cve) {
                    if let Some(after) = e.epss {
                        change.changed.push((cve.clone(), None, after));
                    }
                }
                tx.execute(
                    "INSERT INTO risk_feed_entries(kind, cve, org, ransomware, epss, percentile, added) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT(kind, cve) DO UPDATE SET \
                     ransomware = excluded.ransomware, epss = excluded.epss, percentile = excluded.percentile",
                    params![kind, &cve, ROOT_ORG, e.ransomware as i64, e.epss, e.percentile, &now],
                )?;
            }
            Ok::<_, StateError>(change)
        })
    }

    /// What the feeds say of a CVE: KEV (with ransomware use) and EPSS.
    pub fn feed_of(&self, cve: &str) -> Result<FeedOf> {
        let rows = self.reader().query_map(
            "SELECT kind, ransomware, epss, percentile FROM risk_feed_entries WHERE cve = $1",
            params![cve.to_ascii_uppercase()],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                    r.get::<_, Option<f64>>(3)?,
                ))
            },
        )?;
        let mut kev = None;
        let mut epss = None;
        for (kind, ransomware, e, p) in rows {
            match kind.as_str() {
                "kev" => kev = Some(ransomware),
                _ => epss = e.map(|e| (e, p.unwrap_or(0.0))),
            }
        }
        Ok((kev, epss))
    }
}

/// An alert or intel hit on an asset.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AttackRow {
    pub org: String,
    pub asset_id: i64,
    pub alert_id: String,
    /// alert or intel.
    pub kind: String,
    /// informational … critical.
    pub severity: String,
    /// When it happened (RFC 3339, UTC).
    pub at: String,
    pub title: String,
}

pub(crate) fn row_attack(r: &Row) -> std::result::Result<AttackRow, DbError> {
    Ok(AttackRow {
        org: r.get(0)?,
        asset_id: r.get(1)?,
        alert_id: r.get(2)?,
        kind: r.get(3)?,
        severity: r.get(4)?,
        at: r.get(5)?,
        title: r.get(6)?,
    })
}

impl State {
    /// Records an attack on an asset (once per alert).
    pub fn add_attack(&self, a: &AttackRow) -> Result<()> {
        self.db().execute(
            "INSERT INTO risk_asset_attacks(org, asset_id, alert_id, kind, severity, at, title) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT(asset_id, alert_id) DO NOTHING",
            params![
                &a.org,
                a.asset_id,
                &a.alert_id,
                &a.kind,
                &a.severity,
                &a.at,
                &a.title
            ],
        )?;
        Ok(())
    }

    /// The attacks on an asset since `since` (RFC 3339), newest first, at
    /// most `limit`.
    pub fn attacks(&self, asset_id: i64, since: &str, limit: usize) -> Result<Vec<AttackRow>> {
        Ok(self.reader().query_map(
            &format!(
                "SELECT org, asset_id, alert_id, kind, severity, at, title FROM risk_asset_attacks \
                 WHERE asset_id = $1 AND at >= $2 ORDER BY at DESC LIMIT {}",
                limit.clamp(1, 10_000)
            ),
            params![asset_id, since],
            row_attack,
        )?)
    }
}
