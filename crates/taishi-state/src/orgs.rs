//! Organisations (tenants): a tree with one top (a CERT or a group) and
//! members below it (operators, subsidiaries), at most [`MAX_DEPTH`]
//! levels. Every user, token, alert and intel hit belongs to one; a caller
//! sees its own organisation and those below it ([`Scope`]), never a
//! sibling's.

use serde::Serialize;

use crate::db::{DbError, OptionalExtension, Row, Value};
use crate::{now_iso, Result, State, StateError};

/// The top organisation every database has; older rows belong to it.
pub const ROOT_ORG: &str = "root";

/// Levels below the top an organisation may sit at.
pub const MAX_DEPTH: usize = 6;

/// Organisations a database may hold: the tree is read whole when a
/// caller's scope is computed.
pub const MAX_ORGS: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Org {
    /// `[a-z0-9-]`, 2–32 characters; stamped on events as `organization.id`.
    pub id: String,
    /// None for the top organisation.
    pub parent: Option<String>,
    pub name: String,
    pub created: String,
}

/// Which organisations a query may see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every organisation: the service itself (retention, the pipeline).
    #[default]
    All,
    /// These organisations only: a caller's own and those below it.
    Orgs(Vec<String>),
}

impl Scope {
    pub fn contains(&self, org: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Orgs(v) => v.iter().any(|o| o == org),
        }
    }

    /// A condition on `column` and its parameters (`$1`, `$2`, …), to be
    /// ANDed into a query's WHERE; the query's own parameters follow.
    pub(crate) fn sql(&self, column: &str) -> (String, Vec<Value>) {
        self.sql_at(column, 1)
    }

    /// As [`Scope::sql`], with parameters from `$first` on, for queries
    /// whose own parameters come first.
    pub(crate) fn sql_at(&self, column: &str, first: usize) -> (String, Vec<Value>) {
        match self {
            Scope::All => ("1=1".into(), Vec::new()),
            Scope::Orgs(v) if v.is_empty() => ("0=1".into(), Vec::new()),
            Scope::Orgs(v) => (
                format!(
                    "{column} IN ({})",
                    (first..first + v.len())
                        .map(|n| format!("${n}"))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                v.iter().map(|o| Value::Text(o.clone())).collect(),
            ),
        }
    }
}

fn valid_id(id: &str) -> bool {
    (2..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn row_org(r: &Row) -> std::result::Result<Org, DbError> {
    Ok(Org {
        id: r.get(0)?,
        parent: r.get(1)?,
        name: r.get(2)?,
        created: r.get(3)?,
    })
}

impl State {
    pub fn org(&self, id: &str) -> Result<Org> {
        self.db()
            .query_row(
                "SELECT id, parent, name, created FROM orgs WHERE id = ?",
                params![id],
                row_org,
            )
            .optional()?
            .ok_or_else(|| StateError::NotFound(format!("no organisation `{id}`")))
    }

    /// The organisations in `scope`, parents before children.
    pub fn orgs(&self, scope: &Scope) -> Result<Vec<Org>> {
        let all = self.db().query_map(
            &format!(
                "SELECT id, parent, name, created FROM orgs ORDER BY created, id LIMIT {MAX_ORGS}"
            ),
            params![],
            row_org,
        )?;
        // Breadth-first from the top, so a parent always comes first.
        let mut out: Vec<Org> = Vec::with_capacity(all.len());
        let mut level: Vec<Option<String>> = vec![None];
        while !level.is_empty() {
            let mut next = Vec::new();
            for o in all.iter().filter(|o| level.contains(&o.parent)) {
                next.push(Some(o.id.clone()));
                out.push(o.clone());
            }
            level = next;
        }
        out.retain(|o| scope.contains(&o.id));
        Ok(out)
    }

    /// `id` and every organisation below it.
    pub fn subtree(&self, id: &str) -> Result<Vec<String>> {
        Ok(self.reader().query_map(
            "WITH RECURSIVE t(id, depth) AS (
               SELECT id, 0 FROM orgs WHERE id = $1
               UNION SELECT o.id, t.depth + 1 FROM orgs o JOIN t ON o.parent = t.id WHERE t.depth < $2)
             SELECT id FROM t",
            params![id, MAX_DEPTH as i64 + 1],
            |r| r.get::<_, String>(0),
        )?)
    }

    /// The path from the top to `id` (both included).
    pub fn ancestry(&self, id: &str) -> Result<Vec<String>> {
        let mut path = vec![id.to_string()];
        let mut cur = self.org(id)?;
        while let Some(p) = cur.parent.take() {
            if path.len() > MAX_DEPTH + 1 || path.contains(&p) {
                break;
            }
            path.push(p.clone());
            cur = self.org(&p)?;
        }
        path.reverse();
        Ok(path)
    }

    pub fn create_org(&self, id: &str, parent: &str, name: &str) -> Result<Org> {
        if !valid_id(id) {
            return Err(StateError::Invalid(format!(
                "organisation id `{id}`: use 2–32 of a–z, 0–9 and `-`"
            )));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 128 {
            return Err(StateError::Invalid(
                "organisation name: 1–128 characters".into(),
            ));
        }
        let depth = self.ancestry(parent)?.len();
        if depth > MAX_DEPTH {
            return Err(StateError::Invalid(format!(
                "`{parent}` is {depth} levels deep already; organisations nest at most {MAX_DEPTH} levels"
            )));
        }
        let mut db = self.db();
        let count: i64 = db.query_row("SELECT count(*) FROM orgs", params![], |r| r.get(0))?;
        if count >= MAX_ORGS {
            return Err(StateError::Invalid(format!(
                "at most {MAX_ORGS} organisations"
            )));
        }
        let n = db.execute(
            "INSERT INTO orgs(id, parent, name, created) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(id) DO NOTHING",
            params![id, parent, name, now_iso()],
        )?;
        drop(db);
        if n == 0 {
            return Err(StateError::Conflict(format!(
                "organisation `{id}` exists already"
            )));
        }
        self.org(id)
    }

    pub fn rename_org(&self, id: &str, name: &str) -> Result<Org> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 128 {
            return Err(StateError::Invalid(
                "organisation name: 1–128 characters".into(),
            ));
        }
        if self
            .db()
            .execute("UPDATE orgs SET name = ?1 WHERE id = ?2", params![name, id])?
            == 0
        {
            return Err(StateError::NotFound(format!("no organisation `{id}`")));
        }
        self.org(id)
    }

    /// Deletes an organisation that holds nothing: no organisations below
    /// it, no users, tokens or alerts (those are evidence: move or expire
    /// them first).
    pub fn delete_org(&self, id: &str) -> Result<()> {
        if id == ROOT_ORG {
            return Err(StateError::Conflict(
                "the top organisation cannot be deleted".into(),
            ));
        }
        let mut db = self.db();
        for (what, sql) in [
            (
                "organisations",
                "SELECT count(*) FROM orgs WHERE parent = ?",
            ),
            ("users", "SELECT count(*) FROM users WHERE org = ?"),
            ("tokens", "SELECT count(*) FROM tokens WHERE org = ?"),
            ("alerts", "SELECT count(*) FROM alerts WHERE org = ?"),
        ] {
            let n: i64 = db.query_row(sql, params![id], |r| r.get(0))?;
            if n > 0 {
                return Err(StateError::Conflict(format!(
                    "organisation `{id}` still has {n} {what}; move or remove them first"
                )));
            }
        }
        if db.execute("DELETE FROM orgs WHERE id = ?", params![id])? == 0 {
            return Err(StateError::NotFound(format!("no organisation `{id}`")));
        }
        Ok(())
    }
}

/// What each organisation changed of what the tree above shares with it:
/// rules switched for it (and those below), and the organisation each
/// intel source belongs to. Read whole (it is small) and asked per alert.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    parent: std::collections::HashMap<String, Option<String>>,
    rules: std::collections::HashMap<(String, String), bool>,
    sources: std::collections::HashMap<String, String>,
}

impl Overrides {
    /// `org`, then its parent, up to the top.
    fn up<'a>(&'a self, org: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let mut cur = Some(org);
        let mut steps = 0;
        std::iter::from_fn(move || {
            let o = cur?;
            steps += 1;
            cur = if steps > MAX_DEPTH + 1 {
                None
            } else {
                self.parent.get(o).and_then(|p| p.as_deref())
            };
            Some(o)
        })
    }

    /// Whether `rule` runs for `org`'s events: the switch of the nearest
    /// organisation on the way up that set one; on when none did (the
    /// platform-wide switch decides whether the rule runs at all).
    pub fn rule_on(&self, org: &str, rule: &str) -> bool {
        if self.rules.is_empty() {
            return true;
        }
        self.up(org)
            .find_map(|o| self.rules.get(&(o.to_string(), rule.to_string())).copied())
            .unwrap_or(true)
    }

    /// The switch `org` itself set for `rule`, if any.
    pub fn own_switch(&self, org: &str, rule: &str) -> Option<bool> {
        self.rules
            .get(&(org.to_string(), rule.to_string()))
            .copied()
    }

    /// Whether an indicator of `source` applies to `org`'s events: a
    /// source belongs to the organisation that imported it and applies to
    /// it and those below; one that belongs to none (or the top) to all.
    pub fn source_applies(&self, source: &str, org: &str) -> bool {
        match self.sources.get(source) {
            None => true,
            Some(owner) => self.up(org).any(|o| o == owner),
        }
    }

    /// Whether `org` is `ancestor` or below it.
    pub fn within(&self, org: &str, ancestor: &str) -> bool {
        self.up(org).any(|o| o == ancestor)
    }

    /// The organisation a source belongs to.
    pub fn source_org(&self, source: &str) -> Option<&str> {
        self.sources.get(source).map(String::as_str)
    }
}

impl State {
    /// Everything [`Overrides`] needs, read in one go.
    pub fn overrides(&self) -> Result<Overrides> {
        let mut db = self.reader();
        let parent = db
            .query_map("SELECT id, parent FROM orgs", crate::params![], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })?
            .into_iter()
            .collect();
        let rules = db
            .query_map(
                "SELECT org, rule_id, enabled FROM org_rule_switch",
                crate::params![],
                |r| Ok(((r.get(0)?, r.get(1)?), r.get::<_, bool>(2)?)),
            )?
            .into_iter()
            .collect();
        let sources = db
            .query_map(
                "SELECT source, org FROM intel_source_org",
                crate::params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .into_iter()
            .collect();
        Ok(Overrides {
            parent,
            rules,
            sources,
        })
    }

    /// Switches `rule` for `org` and those below (`None`: follow the tree
    /// above again).
    pub fn set_org_rule(&self, org: &str, rule: &str, enabled: Option<bool>) -> Result<()> {
        self.org(org)?;
        let mut db = self.db();
        match enabled {
            Some(on) => db.execute(
                "INSERT INTO org_rule_switch(org, rule_id, enabled) VALUES (?1, ?2, ?3)
                 ON CONFLICT(org, rule_id) DO UPDATE SET enabled = ?3",
                crate::params![org, rule, on as i64],
            )?,
            None => db.execute(
                "DELETE FROM org_rule_switch WHERE org = ?1 AND rule_id = ?2",
                crate::params![org, rule],
            )?,
        };
        Ok(())
    }

    /// Records which organisation an intel source belongs to (the top:
    /// it applies to all, and no row is kept).
    pub fn set_source_org(&self, source: &str, org: &str) -> Result<()> {
        let mut db = self.db();
        if org == ROOT_ORG {
            db.execute(
                "DELETE FROM intel_source_org WHERE source = ?1",
                crate::params![source],
            )?;
        } else {
            db.execute(
                "INSERT INTO intel_source_org(source, org) VALUES (?1, ?2)
                 ON CONFLICT(source) DO UPDATE SET org = ?2",
                crate::params![source, org],
            )?;
        }
        Ok(())
    }
}
