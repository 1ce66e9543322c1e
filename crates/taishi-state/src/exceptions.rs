//! Rule exceptions: an analyst who closes an alert as a false positive
//! says which of its event's field values made it one (exact values,
//! ANDed), for one rule, in an organisation (and, if asked, those below
//! it), until an expiry. The service's alert gate holds back every new
//! alert of that rule whose event has all those values ([`ExceptionIndex`],
//! read whole and asked per alert without a database call).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

use crate::db::{DbError, Row, Value};
use crate::orgs::Scope;
use crate::{now_iso, Result, State, StateError};

/// Field values one exception may require: enough to pin an event down,
/// few enough that the gate's per-alert check stays a handful of lookups.
pub const MAX_CONDITIONS: usize = 10;
/// Exceptions one organisation may keep (the gate holds them all).
pub const MAX_PER_ORG: i64 = 1_000;
const MAX_FIELD_CHARS: usize = 200;
const MAX_VALUE_CHARS: usize = 2_000;
const MAX_COMMENT_CHARS: usize = 2_000;
const MAX_RULE_CHARS: usize = 300;

/// One required value: the event's `field` (a flat name, or a dotted path
/// into nested objects) equals `value` as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Condition {
    pub field: String,
    pub value: String,
}

/// Which organisations an exception covers.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionScope {
    /// Its own organisation only.
    #[default]
    Org,
    /// Its organisation and those below it.
    Subtree,
}

/// What an analyst gives to create an exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewRuleException {
    pub rule_id: String,
    /// 1–10 field values, all required.
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub scope: ExceptionScope,
    /// When it stops applying (RFC 3339); none: never.
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
    #[serde(default)]
    pub comment: Option<String>,
    /// The alert it was made from.
    #[serde(default)]
    pub alert_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RuleException {
    pub id: String,
    pub org: String,
    pub rule_id: String,
    pub conditions: Vec<Condition>,
    pub scope: ExceptionScope,
    /// RFC 3339, UTC; none: never.
    pub expires: Option<String>,
    /// Past its expiry: kept for the record, applies no more.
    pub expired: bool,
    pub author: String,
    pub created: String,
    pub comment: Option<String>,
    pub alert_id: Option<String>,
    /// Alerts it held back so far.
    pub hits: u64,
    pub last_hit: Option<String>,
}

/// An event's field as text: the flat name first (`user.name` as one
/// key), else a dotted path into nested objects; scalars only.
pub fn event_text(event: &J, field: &str) -> Option<String> {
    let scalar = |v: &J| match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    if let Some(v) = event.get(field) {
        return scalar(v);
    }
    let mut cur = event;
    for part in field.split('.') {
        cur = cur.get(part)?;
    }
    scalar(cur)
}

impl RuleException {
    /// Whether `event` has every required value.
    pub fn matches(&self, event: &J) -> bool {
        self.conditions
            .iter()
            .all(|c| event_text(event, &c.field).is_some_and(|v| v == c.value))
    }
}

const COLUMNS: &str =
    "id, org, rule_id, conditions, subtree, expires, author, created, comment, alert_id, hits, last_hit";

fn iso(us: i64) -> Option<String> {
    DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn row_exception(r: &Row) -> std::result::Result<RuleException, DbError> {
    let text: String = r.get(3)?;
    let conditions = serde_json::from_str(&text).map_err(|e| DbError::Column {
        column: "conditions".into(),
        reason: e.to_string(),
    })?;
    let expires: Option<i64> = r.get(5)?;
    Ok(RuleException {
        id: r.get(0)?,
        org: r.get(1)?,
        rule_id: r.get(2)?,
        conditions,
        scope: if r.get::<_, i64>(4)? != 0 {
            ExceptionScope::Subtree
        } else {
            ExceptionScope::Org
        },
        expires: expires.and_then(iso),
        expired: expires.is_some_and(|e| e <= Utc::now().timestamp_micros()),
        author: r.get(6)?,
        created: r.get(7)?,
        comment: r.get(8)?,
        alert_id: r.get(9)?,
        hits: r.get::<_, i64>(10)?.max(0) as u64,
        last_hit: r.get(11)?,
    })
}

fn checked(x: &NewRuleException) -> Result<NewRuleException> {
    let bad = |m: String| Err(StateError::Invalid(m));
    let rule_id = x.rule_id.trim().to_string();
    if rule_id.is_empty() || rule_id.chars().count() > MAX_RULE_CHARS {
        return bad(format!(
            "rule_id: 1–{MAX_RULE_CHARS} characters / 规则：1–{MAX_RULE_CHARS} 个字符"
        ));
    }
    if x.conditions.is_empty() || x.conditions.len() > MAX_CONDITIONS {
        return bad(format!(
            "conditions: 1–{MAX_CONDITIONS} field values / 条件：1–{MAX_CONDITIONS} 个字段值"
        ));
    }
    for c in &x.conditions {
        if c.field.trim().is_empty()
            || c.field.chars().count() > MAX_FIELD_CHARS
            || c.value.chars().count() > MAX_VALUE_CHARS
        {
            return bad(format!(
                "conditions: a field name of 1–{MAX_FIELD_CHARS} characters and a value of at most {MAX_VALUE_CHARS} / 条件：字段名 1–{MAX_FIELD_CHARS} 个字符，值最多 {MAX_VALUE_CHARS} 个字符"
            ));
        }
    }
    if x.expires.is_some_and(|e| e <= Utc::now()) {
        return bad("expires: a time in the future / 到期时间须在将来".into());
    }
    let comment: Option<String> = x
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| c.chars().take(MAX_COMMENT_CHARS).collect());
    Ok(NewRuleException {
        rule_id,
        conditions: x.conditions.clone(),
        scope: x.scope,
        expires: x.expires,
        comment,
        alert_id: x.alert_id.clone(),
    })
}

impl State {
    /// Creates an exception in `org` by `author`.
    pub fn create_rule_exception(
        &self,
        org: &str,
        author: &str,
        x: &NewRuleException,
    ) -> Result<RuleException> {
        let x = checked(x)?;
        self.org(org)?;
        let id = taishi_alert::alert::new_id(&Utc::now().fixed_offset());
        let conditions =
            serde_json::to_string(&x.conditions).map_err(|e| StateError::Invalid(e.to_string()))?;
        let mut db = self.db();
        let count: i64 = db.query_row(
            "SELECT count(*) FROM rule_exceptions WHERE org = ?1",
            params![org],
            |r| r.get(0),
        )?;
        if count >= MAX_PER_ORG {
            return Err(StateError::Invalid(format!(
                "an organisation keeps at most {MAX_PER_ORG} rule exceptions; delete some first / 每个组织最多 {MAX_PER_ORG} 条规则例外，请先删除一些"
            )));
        }
        db.execute(
            "INSERT INTO rule_exceptions(id, org, rule_id, conditions, subtree, expires, author, \
             created, comment, alert_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                &id,
                org,
                &x.rule_id,
                conditions,
                (x.scope == ExceptionScope::Subtree) as i64,
                x.expires.map(|e| e.timestamp_micros()),
                author,
                now_iso(),
                &x.comment,
                &x.alert_id
            ],
        )?;
        drop(db);
        self.rule_exception(&id, &Scope::All)
    }

    /// The exceptions of the organisations in `scope`, of one rule or all,
    /// newest first.
    pub fn rule_exceptions(&self, scope: &Scope, rule: Option<&str>) -> Result<Vec<RuleException>> {
        let (w, mut p) = scope.sql("org");
        p.push(rule.map_or(Value::Null, |r| Value::Text(r.into())));
        Ok(self.reader().query_map(
            &format!(
                "SELECT {COLUMNS} FROM rule_exceptions WHERE {w} \
                 AND (CAST(${n} AS TEXT) IS NULL OR rule_id = ${n}) ORDER BY created DESC, id",
                n = p.len()
            ),
            &p,
            row_exception,
        )?)
    }

    /// One exception, if it is in `scope`.
    pub fn rule_exception(&self, id: &str, scope: &Scope) -> Result<RuleException> {
        let (w, mut p) = scope.sql("org");
        p.push(Value::Text(id.into()));
        let found = self.db().query_map(
            &format!(
                "SELECT {COLUMNS} FROM rule_exceptions WHERE {w} AND id = ${}",
                p.len()
            ),
            &p,
            row_exception,
        )?;
        found.into_iter().next().ok_or_else(|| {
            StateError::NotFound(format!("no rule exception `{id}` / 没有规则例外 `{id}`"))
        })
    }

    /// Deletes an exception in `scope`.
    pub fn delete_rule_exception(&self, id: &str, scope: &Scope) -> Result<RuleException> {
        let x = self.rule_exception(id, scope)?;
        self.db()
            .execute("DELETE FROM rule_exceptions WHERE id = ?1", params![id])?;
        Ok(x)
    }

    /// Every exception of every organisation that still applies, indexed
    /// by rule for the alert gate.
    pub fn exception_index(&self) -> Result<ExceptionIndex> {
        let all = self.db().query_map(
            &format!("SELECT {COLUMNS} FROM rule_exceptions WHERE expires IS NULL OR expires > ?1"),
            params![Utc::now().timestamp_micros()],
            |r| {
                let expires: Option<i64> = r.get(5)?;
                Ok((row_exception(r)?, expires))
            },
        )?;
        let mut by_rule: HashMap<String, Vec<Live>> = HashMap::new();
        for (x, expires_us) in all {
            by_rule
                .entry(x.rule_id.clone())
                .or_default()
                .push(Live { expires_us, x });
        }
        Ok(ExceptionIndex { by_rule })
    }

    /// Adds the gate's counts: `(exception id, alerts held back, last time)`.
    pub fn add_rule_exception_hits(&self, hits: &[(String, u64, String)]) -> Result<()> {
        if hits.is_empty() {
            return Ok(());
        }
        self.db().transaction(|tx| {
            for (id, n, last) in hits {
                tx.execute(
                    "UPDATE rule_exceptions SET hits = hits + ?1, last_hit = ?2 WHERE id = ?3",
                    params![*n as i64, last, id],
                )?;
            }
            Ok::<_, StateError>(())
        })
    }
}

/// An exception as the gate holds it.
#[derive(Debug, Clone)]
pub struct Live {
    pub x: RuleException,
    expires_us: Option<i64>,
}

/// The exceptions that apply, by rule id.
#[derive(Debug, Default, Clone)]
pub struct ExceptionIndex {
    by_rule: HashMap<String, Vec<Live>>,
}

impl ExceptionIndex {
    /// The first exception of `rule` covering an alert of `org` whose
    /// event is `event` at `now_us`; `within(org, ancestor)` says whether
    /// `org` is `ancestor` or below it.
    pub fn matching(
        &self,
        rule: &str,
        org: &str,
        event: &J,
        now_us: i64,
        within: impl Fn(&str, &str) -> bool,
    ) -> Option<&RuleException> {
        self.by_rule
            .get(rule)?
            .iter()
            .filter(|l| l.expires_us.is_none_or(|e| e > now_us))
            .map(|l| &l.x)
            .find(|x| {
                let covers = match x.scope {
                    ExceptionScope::Org => x.org == org,
                    ExceptionScope::Subtree => within(org, &x.org),
                };
                covers && x.matches(event)
            })
    }

    pub fn is_empty(&self) -> bool {
        self.by_rule.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn flat_names_win_over_paths() {
        let ev = serde_json::json!({"user.name": "a", "user": {"name": "b"}, "n": 4688, "p": {"q": {"r": true}}});
        assert_eq!(event_text(&ev, "user.name").as_deref(), Some("a"));
        assert_eq!(event_text(&ev, "n").as_deref(), Some("4688"));
        assert_eq!(event_text(&ev, "p.q.r").as_deref(), Some("true"));
        assert_eq!(event_text(&ev, "p.q"), None);
        assert_eq!(event_text(&ev, "missing"), None);
    }

    proptest! {
        /// Any field name on any JSON shape: an answer or none, never a panic.
        #[test]
        fn event_text_never_panics(field in ".{0,40}", s in ".{0,40}", n in any::<i64>()) {
            let ev = serde_json::json!({ "a": { "b": s.clone() }, "n": n, "l": [1, 2] });
            let _ = event_text(&ev, &field);
            let _ = event_text(&J::Null, &field);
            prop_assert_eq!(event_text(&ev, "a.b"), Some(s));
        }
    }
}
