//! Saved searches: a query and its time range kept under a name in an
//! organisation, to open again; and scheduled ones, which the service runs
//! every `interval_secs` over the last interval and which raise an alert
//! when they answer more than `threshold`.
//!
//! The query text is kept as the analyst wrote it (the service checks it
//! parses before it is saved); the range stays relative (`now-24h`) so a
//! saved search opened tomorrow covers tomorrow's day.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{DbError, Row, Value};
use crate::orgs::Scope;
use crate::{now_iso, Result, State, StateError};

/// Saved searches one organisation may keep: the scheduler runs every
/// scheduled one of every organisation, so their number bounds its work.
pub const MAX_PER_ORG: i64 = 200;
/// The shortest schedule: a search over the store every few seconds per
/// organisation would compete with the analysts' own.
pub const MIN_INTERVAL_SECS: u64 = 60;
/// The longest schedule (a week).
pub const MAX_INTERVAL_SECS: u64 = 7 * 86_400;
/// Longest query text kept (the search path has its own clause limits).
pub const MAX_QUERY_CHARS: usize = 10_000;
const MAX_NAME_CHARS: usize = 100;
const MAX_TIME_CHARS: usize = 64;
const MAX_RESULT_CHARS: usize = 1_000;

/// What an analyst gives when saving or changing a search.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SavedSearchSpec {
    /// 1–100 characters, unique in the organisation.
    pub name: String,
    pub query: String,
    /// The start of the range, as the search page takes it (`now-24h`,
    /// ISO 8601); `now-24h` when empty.
    #[serde(default)]
    pub from: String,
    /// The end of the range; now when absent.
    #[serde(default)]
    pub to: Option<String>,
    /// Run every this many seconds (60 to 604,800) over the last interval;
    /// absent: not scheduled.
    #[serde(default)]
    pub interval_secs: Option<u64>,
    /// A scheduled run alerts when it answers more than this many rows (a
    /// table) or matching events.
    #[serde(default)]
    pub threshold: u64,
    /// The alert's level: informational, low, medium (default), high,
    /// critical.
    #[serde(default)]
    pub level: Option<String>,
    /// Whether the schedule runs.
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SavedSearch {
    pub id: String,
    pub org: String,
    /// Who saved it.
    pub owner: String,
    pub name: String,
    pub query: String,
    pub from: String,
    pub to: Option<String>,
    /// RFC 3339, UTC.
    pub created: String,
    pub updated: String,
    pub interval_secs: Option<u64>,
    pub threshold: u64,
    pub level: String,
    pub enabled: bool,
    /// When the schedule last ran it (RFC 3339, UTC).
    pub last_run: Option<String>,
    /// What that run found, or why it failed.
    pub last_result: Option<String>,
}

impl SavedSearch {
    /// Whether the schedule should run it at `now`.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        let Some(every) = self.interval_secs.filter(|_| self.enabled) else {
            return false;
        };
        match self
            .last_run
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        {
            None => true,
            Some(last) => (now - last.with_timezone(&Utc)).num_seconds() >= every as i64,
        }
    }
}

const COLUMNS: &str = "id, org, owner, name, query, range_from, range_to, created, updated, \
                       interval_secs, threshold, level, enabled, last_run, last_result";

fn row_saved(r: &Row) -> std::result::Result<SavedSearch, DbError> {
    Ok(SavedSearch {
        id: r.get(0)?,
        org: r.get(1)?,
        owner: r.get(2)?,
        name: r.get(3)?,
        query: r.get(4)?,
        from: r.get(5)?,
        to: r.get(6)?,
        created: r.get(7)?,
        updated: r.get(8)?,
        interval_secs: r.get::<_, Option<i64>>(9)?.map(|i| i.max(0) as u64),
        threshold: r.get::<_, i64>(10)?.max(0) as u64,
        level: r.get(11)?,
        enabled: r.get::<_, bool>(12)?,
        last_run: r.get(13)?,
        last_result: r.get(14)?,
    })
}

/// The spec, trimmed and checked; the level by its name.
fn checked(spec: &SavedSearchSpec) -> Result<SavedSearchSpec> {
    let bad = |m: String| Err(StateError::Invalid(m));
    let name = spec.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return bad(format!(
            "name: 1–{MAX_NAME_CHARS} characters / 名称：1–{MAX_NAME_CHARS} 个字符"
        ));
    }
    if spec.query.trim().is_empty() || spec.query.chars().count() > MAX_QUERY_CHARS {
        return bad(format!(
            "query: 1–{MAX_QUERY_CHARS} characters / 查询：1–{MAX_QUERY_CHARS} 个字符"
        ));
    }
    let from = match spec.from.trim() {
        "" => "now-24h".to_string(),
        f => f.to_string(),
    };
    let to = spec
        .to
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    if from.chars().count() > MAX_TIME_CHARS
        || to
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TIME_CHARS)
    {
        return bad(format!(
            "from/to: at most {MAX_TIME_CHARS} characters / 时间范围：最多 {MAX_TIME_CHARS} 个字符"
        ));
    }
    if let Some(i) = spec.interval_secs {
        if !(MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&i) {
            return bad(format!(
                "interval_secs: {MIN_INTERVAL_SECS} to {MAX_INTERVAL_SECS} seconds (1 minute to 7 days) / 执行间隔：{MIN_INTERVAL_SECS} 至 {MAX_INTERVAL_SECS} 秒（1 分钟至 7 天）"
            ));
        }
    }
    if spec.threshold > i64::MAX as u64 {
        return bad("threshold: too large / 阈值过大".into());
    }
    let level = match spec.level.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => taishi_alert::Level::Medium,
        Some(l) => match taishi_alert::Level::parse(l) {
            Some(l) => l,
            None => {
                return bad(format!(
                    "level `{l}`: informational, low, medium, high or critical / 级别 `{l}`：informational、low、medium、high 或 critical"
                ))
            }
        },
    };
    Ok(SavedSearchSpec {
        name,
        query: spec.query.clone(),
        from,
        to,
        interval_secs: spec.interval_secs,
        threshold: spec.threshold,
        level: Some(level.name().to_string()),
        enabled: spec.enabled && spec.interval_secs.is_some(),
    })
}

fn taken(name: &str) -> StateError {
    StateError::Conflict(format!(
        "a saved search named `{name}` exists already in this organisation / 本组织已有名为 `{name}` 的保存搜索"
    ))
}

impl State {
    /// The saved searches of the organisations in `scope`, by name.
    pub fn saved_searches(&self, scope: &Scope) -> Result<Vec<SavedSearch>> {
        let (w, p) = scope.sql("org");
        Ok(self.reader().query_map(
            &format!("SELECT {COLUMNS} FROM saved_searches WHERE {w} ORDER BY name, org"),
            &p,
            row_saved,
        )?)
    }

    /// One saved search, if it is in `scope`.
    pub fn saved_search(&self, id: &str, scope: &Scope) -> Result<SavedSearch> {
        let (w, mut p) = scope.sql("org");
        p.push(Value::Text(id.into()));
        let found = self.db().query_map(
            &format!(
                "SELECT {COLUMNS} FROM saved_searches WHERE {w} AND id = ${}",
                p.len()
            ),
            &p,
            row_saved,
        )?;
        found.into_iter().next().ok_or_else(|| {
            StateError::NotFound(format!("no saved search `{id}` / 没有保存搜索 `{id}`"))
        })
    }

    /// Saves a search in `org` for `owner`.
    pub fn create_saved_search(
        &self,
        org: &str,
        owner: &str,
        spec: &SavedSearchSpec,
    ) -> Result<SavedSearch> {
        let s = checked(spec)?;
        self.org(org)?;
        let id = taishi_alert::alert::new_id(&Utc::now().fixed_offset());
        let now = now_iso();
        let mut db = self.db();
        let count: i64 = db.query_row(
            "SELECT count(*) FROM saved_searches WHERE org = ?1",
            params![org],
            |r| r.get(0),
        )?;
        if count >= MAX_PER_ORG {
            return Err(StateError::Invalid(format!(
                "an organisation keeps at most {MAX_PER_ORG} saved searches; delete some first / 每个组织最多保存 {MAX_PER_ORG} 个搜索，请先删除一些"
            )));
        }
        let n = db.execute(
            "INSERT INTO saved_searches(id, org, owner, name, query, range_from, range_to, created, \
             updated, interval_secs, threshold, level, enabled) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT(org, name) DO NOTHING",
            params![
                &id,
                org,
                owner,
                &s.name,
                &s.query,
                &s.from,
                &s.to,
                &now,
                s.interval_secs.map(|i| i as i64),
                s.threshold as i64,
                &s.level,
                s.enabled as i64
            ],
        )?;
        drop(db);
        if n == 0 {
            return Err(taken(&s.name));
        }
        self.saved_search(&id, &Scope::All)
    }

    /// Changes a saved search in `scope` (its schedule's last run stays).
    pub fn update_saved_search(
        &self,
        id: &str,
        scope: &Scope,
        spec: &SavedSearchSpec,
    ) -> Result<SavedSearch> {
        let s = checked(spec)?;
        let old = self.saved_search(id, scope)?;
        let clash = self.db().query_map(
            "SELECT id FROM saved_searches WHERE org = ?1 AND name = ?2 AND id != ?3",
            params![&old.org, &s.name, id],
            |r| r.get::<_, String>(0),
        )?;
        if !clash.is_empty() {
            return Err(taken(&s.name));
        }
        self.db().execute(
            "UPDATE saved_searches SET name = ?1, query = ?2, range_from = ?3, range_to = ?4, \
             updated = ?5, interval_secs = ?6, threshold = ?7, level = ?8, enabled = ?9 \
             WHERE id = ?10",
            params![
                &s.name,
                &s.query,
                &s.from,
                &s.to,
                now_iso(),
                s.interval_secs.map(|i| i as i64),
                s.threshold as i64,
                &s.level,
                s.enabled as i64,
                id
            ],
        )?;
        self.saved_search(id, &Scope::All)
    }

    /// Deletes a saved search in `scope`.
    pub fn delete_saved_search(&self, id: &str, scope: &Scope) -> Result<()> {
        self.saved_search(id, scope)?;
        self.db()
            .execute("DELETE FROM saved_searches WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// The scheduled searches due at `now`, of every organisation.
    pub fn due_saved_searches(&self, now: DateTime<Utc>) -> Result<Vec<SavedSearch>> {
        let all = self.reader().query_map(
            &format!(
                "SELECT {COLUMNS} FROM saved_searches WHERE enabled != 0 AND interval_secs IS NOT NULL"
            ),
            params![],
            row_saved,
        )?;
        Ok(all.into_iter().filter(|s| s.due(now)).collect())
    }

    /// Records a scheduled run: when, and what it found (cut to 1,000
    /// characters).
    pub fn record_saved_search_run(&self, id: &str, at: DateTime<Utc>, result: &str) -> Result<()> {
        let result: String = result.chars().take(MAX_RESULT_CHARS).collect();
        self.db().execute(
            "UPDATE saved_searches SET last_run = ?1, last_result = ?2 WHERE id = ?3",
            params![
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                result,
                id
            ],
        )?;
        Ok(())
    }
}
