//! Incidents (issue 14): the `taishi_incident::Incident` document kept whole
//! as JSON (the model is the truth), with columns copied from it for lists
//! and filters, the alerts it holds (so an alert shows its incident) and its
//! observables (so an observable shows the other incidents it was seen in).
//!
//! Every write names the version it read: a stale one is refused with
//! [`StateError::Conflict`], so two analysts working one incident never
//! overwrite each other's change silently.

use serde::Serialize;
use taishi_incident::{Incident, ObservableKind, Status};

use crate::db::{Conn, DbError, Row, Value};
use crate::orgs::Scope;
use crate::{now_iso, Result, State, StateError};

/// Incidents one organisation may keep open at once: the grouping's index
/// is rebuilt from them at start.
pub const MAX_OPEN_PER_ORG: i64 = 100_000;
/// Largest page of a list.
pub const MAX_PAGE: usize = 500;
/// Longest filter value taken (owner, category).
const MAX_FILTER_CHARS: usize = 256;

/// An incident as stored: the document, its version and its grouping key.
#[derive(Debug, Clone)]
pub struct StoredIncident {
    pub incident: Incident,
    /// Name this when writing it back ([`State::update_incident`]).
    pub version: i64,
    /// The entity the automatic grouping filed it under (`host:ws01`).
    pub group_key: Option<String>,
    pub created: String,
    pub updated: String,
}

/// One row of the incident list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct IncidentSummary {
    pub id: String,
    pub org: String,
    pub title: String,
    /// new, triage, containment, eradication, recovery, summary, closed.
    pub status: String,
    /// informational, low, medium, high, critical.
    pub severity: String,
    pub owner: Option<String>,
    /// The confirmed GB/T 20986-2023 subcategory code.
    pub category: Option<String>,
    /// general, relatively_major, major, especially_major.
    pub grade: Option<String>,
    /// When the operator discovered it (ISO 8601 with the zone): the
    /// reporting clock counts from here.
    pub discovered: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub updated: String,
    /// Alerts attached (not removed).
    pub alerts: u64,
    pub version: i64,
}

/// Which incidents a list shows, and in which order.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct IncidentFilter {
    /// One status, or `open` for every status but closed.
    pub status: Option<String>,
    /// This severity and above.
    pub severity: Option<String>,
    pub owner: Option<String>,
    /// A subcategory code, or a category's two-digit prefix.
    pub category: Option<String>,
    /// Incidents holding this alert (an alert page shows its incident).
    pub alert: Option<String>,
    /// `updated` (default, newest first), `discovered`, `severity`, or
    /// `deadline` (the server's queue order: the next reporting deadline
    /// first, across pages; the state layer reads it as `updated`).
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    /// Only incidents graded 较大 or above: the ones a reporting deadline
    /// can apply to (set by the server, not by a query).
    #[serde(skip)]
    #[schemars(skip)]
    pub reportable_only: bool,
    /// Incidents left out (set by the server, not by a query; at most
    /// `MAX_PAGE`).
    #[serde(skip)]
    #[schemars(skip)]
    pub exclude: Vec<String>,
}

fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn status_name(s: Status) -> String {
    name_of(&s)
}

fn kind_name(k: ObservableKind) -> String {
    name_of(&k)
}

fn invalid(m: String) -> StateError {
    StateError::Invalid(m)
}

fn not_found(id: &str) -> StateError {
    StateError::NotFound(format!("no incident `{id}` / 没有事件 `{id}`"))
}

fn stale(id: &str) -> StateError {
    StateError::Conflict(format!(
        "incident `{id}` was changed by someone else since you read it: reload and try again / 事件 `{id}` 已被他人修改，请刷新后重试"
    ))
}

const SUMMARY_COLUMNS: &str = "id, org, title, status, severity, owner, category, grade, \
                               discovered, created, updated, alert_count, version";

fn row_summary(r: &Row) -> std::result::Result<IncidentSummary, DbError> {
    Ok(IncidentSummary {
        id: r.get(0)?,
        org: r.get(1)?,
        title: r.get(2)?,
        status: r.get(3)?,
        severity: r.get(4)?,
        owner: r.get(5)?,
        category: r.get(6)?,
        grade: r.get(7)?,
        discovered: r.get(8)?,
        created: r.get(9)?,
        updated: r.get(10)?,
        alerts: r.get::<_, i64>(11)?.max(0) as u64,
        version: r.get(12)?,
    })
}

fn row_stored(r: &Row) -> std::result::Result<StoredIncident, DbError> {
    let doc: String = r.get(0)?;
    let incident = serde_json::from_str(&doc).map_err(|e| DbError::Column {
        column: "incidents.doc".into(),
        reason: e.to_string(),
    })?;
    Ok(StoredIncident {
        incident,
        version: r.get(1)?,
        group_key: r.get(2)?,
        created: r.get(3)?,
        updated: r.get(4)?,
    })
}

/// The list columns of an incident, in the order `write_row` binds them.
struct Columns {
    status: String,
    severity: String,
    rank: i64,
    category: Option<String>,
    grade: Option<String>,
    discovered: String,
    alerts: i64,
    doc: String,
}

/// The columns copied from the document, in the order of
/// [`Columns::values`].
const LIST_COLUMNS: &str = "status, severity, severity_rank, owner, title, category, grade, \
                            updated, discovered, alert_count, doc";

impl Columns {
    /// `LIST_COLUMNS`' values ($1–$11), `updated` being `now`.
    fn values(&self, i: &Incident, now: &str) -> Vec<Value> {
        vec![
            Value::Text(self.status.clone()),
            Value::Text(self.severity.clone()),
            Value::Int(self.rank),
            (&i.owner).into(),
            Value::Text(i.title.clone()),
            (&self.category).into(),
            (&self.grade).into(),
            Value::Text(now.to_string()),
            Value::Text(self.discovered.clone()),
            Value::Int(self.alerts),
            Value::Text(self.doc.clone()),
        ]
    }
}

fn columns(i: &Incident) -> Result<Columns> {
    Ok(Columns {
        status: status_name(i.status),
        severity: i.severity.name().to_string(),
        rank: i.severity as i64,
        category: i.category.as_ref().map(|c| c.subcategory.clone()),
        grade: i.grade.as_ref().map(|g| name_of(&g.grade)),
        discovered: i.discovered_at.to_rfc3339(),
        alerts: i.active_alerts().count() as i64,
        doc: serde_json::to_string(i).map_err(|e| invalid(format!("incident {}: {e}", i.id)))?,
    })
}

/// Rewrites the alert links and observables of an incident (inside the
/// write's transaction, so the index never disagrees with the document).
fn write_index(tx: &mut Conn, i: &Incident) -> std::result::Result<(), DbError> {
    tx.execute(
        "DELETE FROM incident_alerts WHERE incident_id = $1",
        params![&i.id],
    )?;
    for a in &i.alerts {
        tx.execute(
            "INSERT INTO incident_alerts(alert_id, incident_id, org, active) VALUES ($1, $2, $3, $4) \
             ON CONFLICT(alert_id, incident_id) DO UPDATE SET active = excluded.active",
            params![&a.alert_id, &i.id, &i.org, a.active as i64],
        )?;
    }
    tx.execute(
        "DELETE FROM incident_observables WHERE incident_id = $1",
        params![&i.id],
    )?;
    for o in &i.observables {
        tx.execute(
            "INSERT INTO incident_observables(kind, value, incident_id, org) VALUES ($1, $2, $3, $4) \
             ON CONFLICT(kind, value, incident_id) DO NOTHING",
            params![kind_name(o.kind), &o.value, &i.id, &i.org],
        )?;
    }
    Ok(())
}

impl State {
    /// Stores a new incident (its organisation must exist). Returns its
    /// version (1).
    pub fn create_incident(&self, i: &Incident, group_key: Option<&str>) -> Result<i64> {
        self.org(&i.org)?;
        let c = columns(i)?;
        let now = now_iso();
        self.db().transaction(|tx| {
            let open: i64 = tx.query_row(
                "SELECT count(*) FROM incidents WHERE org = $1 AND status != 'closed'",
                params![&i.org],
                |r| r.get(0),
            )?;
            if open >= MAX_OPEN_PER_ORG {
                return Err(invalid(format!(
                    "organisation {}: {MAX_OPEN_PER_ORG} incidents are open already; close some first / 组织 {} 的未关闭事件已达 {MAX_OPEN_PER_ORG} 个，请先关闭一些",
                    i.org, i.org
                )));
            }
            // `$1`–`$11` are the list columns (`Columns::values`).
            let mut p = c.values(i, &now);
            p.extend([
                Value::Text(i.id.clone()),
                Value::Text(i.org.clone()),
                group_key.into(),
            ]);
            let n = tx.execute(
                &format!(
                    "INSERT INTO incidents({LIST_COLUMNS}, id, org, group_key, created, version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $8, 1) \
                     ON CONFLICT(id) DO NOTHING"
                ),
                &p,
            )?;
            if n == 0 {
                return Err(StateError::Conflict(format!(
                    "incident `{}` exists already / 事件 `{}` 已存在",
                    i.id, i.id
                )));
            }
            write_index(tx, i)?;
            Ok(1)
        })
    }

    /// Writes a changed incident back, if it is still at `version`; returns
    /// the new version. A stale version is a [`StateError::Conflict`].
    pub fn update_incident(&self, i: &Incident, version: i64) -> Result<i64> {
        let c = columns(i)?;
        let now = now_iso();
        self.db().transaction(|tx| {
            let mut p = c.values(i, &now);
            p.extend([
                Value::Text(i.id.clone()),
                Value::Text(i.org.clone()),
                Value::Int(version),
            ]);
            let set = LIST_COLUMNS
                .split(", ")
                .enumerate()
                .map(|(n, col)| format!("{col} = ${}", n + 1))
                .collect::<Vec<_>>()
                .join(", ");
            let n = tx.execute(
                &format!(
                    "UPDATE incidents SET {set}, version = version + 1 \
                     WHERE id = $12 AND org = $13 AND version = $14"
                ),
                &p,
            )?;
            if n == 0 {
                let exists: i64 = tx.query_row(
                    "SELECT count(*) FROM incidents WHERE id = $1 AND org = $2",
                    params![&i.id, &i.org],
                    |r| r.get(0),
                )?;
                return Err(if exists == 0 {
                    not_found(&i.id)
                } else {
                    stale(&i.id)
                });
            }
            write_index(tx, i)?;
            Ok(version + 1)
        })
    }

    /// One incident, if it is in `scope` (a sibling's is as absent as a
    /// missing one).
    pub fn incident(&self, id: &str, scope: &Scope) -> Result<StoredIncident> {
        let (w, mut p) = scope.sql("org");
        p.push(Value::Text(id.into()));
        let found = self.db().query_map(
            &format!(
                "SELECT doc, version, group_key, created, updated FROM incidents WHERE {w} AND id = ${}",
                p.len()
            ),
            &p,
            row_stored,
        )?;
        found.into_iter().next().ok_or_else(|| not_found(id))
    }

    /// A page of incidents in `scope` and how many match.
    pub fn incidents(
        &self,
        f: &IncidentFilter,
        scope: &Scope,
    ) -> Result<(u64, Vec<IncidentSummary>)> {
        let (mut w, mut p) = scope.sql("org");
        let mut cond = |p: &mut Vec<Value>, sql: &str, v: Value| {
            p.push(v);
            w.push_str(&format!(" AND {sql} ${}", p.len()));
        };
        let text = |field: &str, v: &Option<String>| -> Result<Option<String>> {
            match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) if v.chars().count() > MAX_FILTER_CHARS => Err(invalid(format!(
                    "{field}: at most {MAX_FILTER_CHARS} characters / {field}：最多 {MAX_FILTER_CHARS} 个字符"
                ))),
                Some(v) => Ok(Some(v.to_string())),
            }
        };
        match text("status", &f.status)?.as_deref() {
            None => {}
            Some("open") => cond(&mut p, "status !=", Value::Text("closed".into())),
            Some(s) => {
                let st: Status = serde_json::from_value(serde_json::Value::String(s.into()))
                    .map_err(|_| invalid(format!(
                        "status `{s}`: open, new, triage, containment, eradication, recovery, summary or closed / 状态 `{s}` 无效"
                    )))?;
                cond(&mut p, "status =", Value::Text(status_name(st)));
            }
        }
        if let Some(l) = text("severity", &f.severity)? {
            let level = taishi_alert::Level::parse(&l).ok_or_else(|| {
                invalid(format!(
                    "severity `{l}`: informational, low, medium, high or critical / 严重程度 `{l}` 无效"
                ))
            })?;
            cond(&mut p, "severity_rank >=", Value::Int(level as i64));
        }
        if let Some(o) = text("owner", &f.owner)? {
            cond(&mut p, "owner =", Value::Text(o));
        }
        if let Some(c) = text("category", &f.category)? {
            if c.len() <= 2 {
                cond(&mut p, "category LIKE", Value::Text(format!("{c}%")));
            } else {
                cond(&mut p, "category =", Value::Text(c));
            }
        }
        if let Some(a) = text("alert", &f.alert)? {
            cond(
                &mut p,
                "id IN (SELECT incident_id FROM incident_alerts WHERE active != 0 AND alert_id =",
                Value::Text(a),
            );
            w.push(')');
        }
        if f.reportable_only {
            w.push_str(" AND grade IN ('relatively_major', 'major', 'especially_major')");
        }
        if !f.exclude.is_empty() {
            let mut list = Vec::new();
            for id in f.exclude.iter().take(MAX_PAGE) {
                p.push(Value::Text(id.clone()));
                list.push(format!("${}", p.len()));
            }
            w.push_str(&format!(" AND id NOT IN ({})", list.join(", ")));
        }
        let order = match f.sort.as_deref().unwrap_or("updated") {
            "updated" | "deadline" => "updated DESC, id",
            "discovered" => "discovered DESC, id",
            "severity" => "severity_rank DESC, updated DESC, id",
            s => {
                return Err(invalid(format!(
                    "sort `{s}`: updated, discovered, severity or deadline / 排序 `{s}`：updated、discovered、severity 或 deadline"
                )))
            }
        };
        let limit = f.limit.unwrap_or(50).clamp(1, MAX_PAGE);
        let offset = f.offset.unwrap_or(0).min(1_000_000);
        let mut db = self.reader();
        let total: i64 = db.query_row(
            &format!("SELECT count(*) FROM incidents WHERE {w}"),
            &p,
            |r| r.get(0),
        )?;
        let items = db.query_map(
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM incidents WHERE {w} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            ),
            &p,
            row_summary,
        )?;
        Ok((total.max(0) as u64, items))
    }

    /// The incidents in `scope` an alert is attached to (active links
    /// first).
    pub fn incidents_of_alert(&self, alert_id: &str, scope: &Scope) -> Result<Vec<String>> {
        let (w, mut p) = scope.sql("org");
        p.push(Value::Text(alert_id.into()));
        Ok(self.reader().query_map(
            &format!(
                "SELECT incident_id FROM incident_alerts WHERE {w} AND alert_id = ${} ORDER BY active DESC, incident_id",
                p.len()
            ),
            &p,
            |r| r.get(0),
        )?)
    }

    /// The other incidents in `scope` an observable was seen in (at most
    /// `limit`, newest ids first).
    pub fn incidents_seen(
        &self,
        kind: ObservableKind,
        value: &str,
        except: &str,
        scope: &Scope,
        limit: usize,
    ) -> Result<Vec<String>> {
        let (w, mut p) = scope.sql("org");
        p.push(Value::Text(kind_name(kind)));
        p.push(Value::Text(value.into()));
        p.push(Value::Text(except.into()));
        let n = p.len();
        Ok(self.reader().query_map(
            &format!(
                "SELECT incident_id FROM incident_observables WHERE {w} AND kind = ${} AND value = ${} \
                 AND incident_id != ${n} ORDER BY incident_id DESC LIMIT {}",
                n - 2,
                n - 1,
                limit.min(MAX_PAGE)
            ),
            &p,
            |r| r.get(0),
        )?)
    }

    /// Every open incident the grouping filed under an entity, of every
    /// organisation (the grouping's index is rebuilt from these at start).
    pub fn open_grouped_incidents(&self) -> Result<Vec<StoredIncident>> {
        Ok(self.reader().query_map(
            "SELECT doc, version, group_key, created, updated FROM incidents \
             WHERE status != 'closed' AND group_key IS NOT NULL ORDER BY org, updated",
            params![],
            row_stored,
        )?)
    }

    /// Incidents graded 较大 or above, of every organisation, open or
    /// closed (the summary report is owed after closing), least recently
    /// changed first, at most `limit`: what the reporting clock watches.
    pub fn reportable_incidents(&self, limit: usize) -> Result<Vec<StoredIncident>> {
        Ok(self.reader().query_map(
            &format!(
                "SELECT doc, version, group_key, created, updated FROM incidents \
                 WHERE grade IN ('relatively_major', 'major', 'especially_major') \
                 ORDER BY updated LIMIT {}",
                limit.min(MAX_REPORTABLE)
            ),
            params![],
            row_stored,
        )?)
    }
}

/// The reporting clock looks at this many graded incidents at most.
pub const MAX_REPORTABLE: usize = 100_000;
