//! Regression tests in the SigmaHQ layout: each `info.yml` names a rule id
//! (`rule_metadata[].id`) and tests (`regression_tests_info[]` with the
//! `path` of an EVTX file relative to the sigma folder and an optional
//! `match_count`, 1 when absent). A test passes when that rule fires
//! exactly `match_count` times on the file.

use std::path::{Path, PathBuf};

use serde_yaml::Value as Y;
use taishi_event::Event;

use crate::engine::{Detection, Engine, Scratch};

/// Why an `info.yml` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InfoError {
    #[error("cannot read: {0}")]
    Read(#[from] std::io::Error),
    #[error("YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("{0}")]
    Invalid(String),
}

impl From<&str> for InfoError {
    fn from(s: &str) -> InfoError {
        InfoError::Invalid(s.to_string())
    }
}

/// Reads a test file into events; Err says why not.
pub type Decode =
    dyn Fn(&Path) -> Result<Vec<Event>, Box<dyn std::error::Error + Send + Sync>> + Sync;
use crate::load::RuleSet;

#[derive(Debug, Clone)]
pub struct RegressionTest {
    pub info: PathBuf,
    pub rule_id: String,
    pub rule_title: Option<String>,
    pub name: Option<String>,
    pub file: PathBuf,
    pub match_count: u64,
}

/// How `match_count` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CountMode {
    /// The rule fires exactly `match_count` times.
    #[default]
    Exact,
    /// At least `match_count` times: what SigmaHQ's own runner checks (it
    /// only looks for one match), and the only reading under which some of
    /// its info files hold (`match_count: 1` on files where several events
    /// match the rule).
    AtLeast,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub test: RegressionTest,
    pub passed: bool,
    /// Why it failed (or a note on how it ran).
    pub reason: Option<String>,
    pub matches: u64,
}

/// The `info.yml` files under `root`, sorted.
pub fn info_files(root: &Path) -> Vec<PathBuf> {
    if root.is_file() {
        return vec![root.to_path_buf()];
    }
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .follow_links(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.file_name() == "info.yml")
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

/// The sigma folder a test path is relative to: the nearest ancestor of
/// `info` under which `rel` exists.
fn resolve(info: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    if rel.is_absolute() {
        return rel.exists().then(|| rel.to_path_buf());
    }
    info.ancestors()
        .skip(1)
        .map(|a| a.join(rel))
        .find(|p| p.exists())
}

/// Reads the tests of one `info.yml`; Err names what is wrong with it.
pub fn read_info(info: &Path) -> Result<Vec<RegressionTest>, InfoError> {
    let text = std::fs::read_to_string(info)?;
    let doc: Y = serde_yaml::from_str(&text)?;
    let meta = doc
        .get("rule_metadata")
        .and_then(Y::as_sequence)
        .and_then(|s| s.first())
        .ok_or("no `rule_metadata`")?;
    let rule_id = meta
        .get("id")
        .and_then(Y::as_str)
        .ok_or("`rule_metadata` has no `id`")?;
    let title = meta.get("title").and_then(Y::as_str).map(str::to_string);
    // An info file without tests (SigmaHQ's runner skips them too).
    let Some(tests) = doc.get("regression_tests_info").and_then(Y::as_sequence) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for t in tests {
        let rel = t
            .get("path")
            .and_then(Y::as_str)
            .ok_or("a test without `path`")?;
        let file = resolve(info, rel)
            .ok_or_else(|| InfoError::Invalid(format!("test file `{rel}` not found")))?;
        out.push(RegressionTest {
            info: info.to_path_buf(),
            rule_id: rule_id.to_string(),
            rule_title: title.clone(),
            name: t.get("name").and_then(Y::as_str).map(str::to_string),
            file,
            match_count: t.get("match_count").and_then(Y::as_u64).unwrap_or(1),
        });
    }
    Ok(out)
}

/// Runs the tests. `decode` reads a file into events (Err: why not); when
/// an EVTX file cannot be read, the JSON copy beside it is used.
pub fn run(
    infos: &[PathBuf],
    set: &RuleSet,
    engine: &Engine,
    decode: &Decode,
    mode: CountMode,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    for info in infos {
        let tests = match read_info(info) {
            Ok(t) => t,
            Err(e) => {
                out.push(Outcome {
                    test: RegressionTest {
                        info: info.clone(),
                        rule_id: String::new(),
                        rule_title: None,
                        name: None,
                        file: PathBuf::new(),
                        match_count: 0,
                    },
                    passed: false,
                    reason: Some(format!("{}: {e}", info.display())),
                    matches: 0,
                });
                continue;
            }
        };
        for t in tests {
            out.push(run_one(t, set, engine, decode, mode));
        }
    }
    out
}

fn run_one(
    test: RegressionTest,
    set: &RuleSet,
    engine: &Engine,
    decode: &Decode,
    mode: CountMode,
) -> Outcome {
    let fail = |test: RegressionTest, reason: String| Outcome {
        test,
        passed: false,
        reason: Some(reason),
        matches: 0,
    };
    let Some(idx) = set
        .rules
        .iter()
        .position(|r| r.meta.id.as_deref() == Some(test.rule_id.as_str()))
    else {
        let why = match set
            .rejected
            .iter()
            .find(|r| r.id.as_deref() == Some(test.rule_id.as_str()))
        {
            Some(r) => format!("rule {} was rejected: {}", test.rule_id, r.reason),
            None => format!("no loaded rule has id {}", test.rule_id),
        };
        return fail(test, why);
    };
    if let Some(e) = engine.errors().iter().find(|e| e.rule == idx) {
        let why = format!("rule {} could not be compiled: {}", test.rule_id, e.reason);
        return fail(test, why);
    }
    if engine.unmapped().contains(&idx) {
        let why = format!(
            "no pipeline maps the log source of rule {} ({})",
            test.rule_id, set.rules[idx].meta.logsource
        );
        return fail(test, why);
    }
    let mut note = None;
    let events = match decode(&test.file) {
        Ok(ev) if !ev.is_empty() => ev,
        first => {
            let json = test.file.with_extension("json");
            let why = match first {
                Ok(_) => "no events".to_string(),
                Err(e) => e.to_string(),
            };
            if json.exists() && json != test.file {
                match decode(&json) {
                    Ok(ev) => {
                        note = Some(format!(
                            "read the JSON copy ({}: {why})",
                            test.file.display()
                        ));
                        ev
                    }
                    Err(e) => return fail(test, format!("{why}; JSON copy: {e}")),
                }
            } else {
                return fail(test, why);
            }
        }
    };
    let mut scratch = Scratch::new();
    let mut hits: Vec<Detection> = Vec::new();
    let mut n = 0u64;
    for ev in &events {
        hits.clear();
        engine.detect(ev, &mut scratch, &mut hits);
        n += hits.iter().filter(|d| d.rule == idx).count() as u64;
    }
    let passed = match mode {
        CountMode::Exact => n == test.match_count,
        CountMode::AtLeast => n >= test.match_count,
    };
    let reason = if passed {
        note
    } else {
        Some(format!(
            "rule {} ({}) fired {n} times on {} ({} events), expected {}{}",
            test.rule_id,
            set.rules[idx].meta.title,
            test.file.display(),
            events.len(),
            if mode == CountMode::AtLeast {
                "at least "
            } else {
                ""
            },
            test.match_count
        ))
    };
    Outcome {
        test,
        passed,
        reason,
        matches: n,
    }
}
