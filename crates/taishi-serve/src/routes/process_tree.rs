//! An alert's process tree: for a process-creation event (Sysmon event 1,
//! Windows Security 4688) the chain of its parents and its children, read
//! from the event store within the alert's organisation, a bounded time
//! window and a bounded depth and breadth.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::{Extension, Json};
use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as J;
use taishi_store::{Budget, Filter, SearchRequest, TimeRange};

use super::{Access, Route, R, S};
use crate::auth::{Caller, Permission as P};
use crate::state::exceptions::event_text;
use crate::App;

/// Parents followed up from the alert's process.
pub const MAX_DEPTH: usize = 8;
/// Children listed.
pub const MAX_CHILDREN: usize = 50;
/// How far back a parent is looked for: processes live long (a service
/// started at boot), but the search must stay bounded.
const PARENT_WINDOW: TimeDelta = TimeDelta::days(7);
/// How far after the process its children are looked for.
const CHILD_WINDOW: TimeDelta = TimeDelta::hours(24);
/// Longest command line answered (the console shows the start).
const MAX_COMMAND_CHARS: usize = 4_000;

pub fn routes() -> Vec<Route> {
    vec![Route::new(
        Method::GET,
        "/alerts/{id}/process-tree",
        Access::Needs(P::AlertsRead),
        process_tree,
    )
    .doc(
        "alerts",
        "The alert's process with its parents and children (Sysmon 1, Security 4688)",
        "告警进程及其父进程链和子进程（Sysmon 1、安全日志 4688）",
    )
    .answer::<ProcessTree>()]
}

/// Which log the process events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessSource {
    /// Sysmon event 1: processes linked by `ProcessGuid`.
    Sysmon,
    /// Security event 4688: by process id on the same computer.
    Security4688,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ProcessNode {
    /// The store's sequence number of the creation event; none for a
    /// parent known only by the child's fields.
    pub seq: Option<u64>,
    /// RFC 3339 with the zone.
    pub time: Option<String>,
    pub image: Option<String>,
    pub pid: Option<String>,
    pub command_line: Option<String>,
    pub user: Option<String>,
}

/// `ancestors` run from the alert's process's parent upwards; when the
/// topmost one's own parent is not in the store, `parent_missing` says so
/// and `missing_parent` names it from the child's fields.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ProcessTree {
    /// None: the alert's event is not a process creation.
    pub source: Option<ProcessSource>,
    pub process: Option<ProcessNode>,
    pub ancestors: Vec<ProcessNode>,
    pub parent_missing: bool,
    pub missing_parent: Option<ProcessNode>,
    pub children: Vec<ProcessNode>,
    /// More children than listed.
    pub more_children: bool,
}

/// The fields of one kind of process-creation event.
struct Keys {
    /// Names this process (its GUID, or its id on the computer).
    own: &'static str,
    /// Names its parent the same way.
    parent: &'static str,
    image: &'static str,
    parent_image: &'static str,
    pid: &'static str,
    parent_pid: &'static str,
    command: &'static str,
    parent_command: Option<&'static str>,
    event_id: &'static str,
    /// Ids are reused: 4688's are only unique on one computer.
    same_host: bool,
}

const SYSMON: Keys = Keys {
    own: "ProcessGuid",
    parent: "ParentProcessGuid",
    image: "Image",
    parent_image: "ParentImage",
    pid: "ProcessId",
    parent_pid: "ParentProcessId",
    command: "CommandLine",
    parent_command: Some("ParentCommandLine"),
    event_id: "1",
    same_host: false,
};

const SECURITY: Keys = Keys {
    own: "NewProcessId",
    parent: "ProcessId",
    image: "NewProcessName",
    parent_image: "ParentProcessName",
    pid: "NewProcessId",
    parent_pid: "ProcessId",
    command: "CommandLine",
    parent_command: None,
    event_id: "4688",
    same_host: true,
};

fn kind_of(ev: &J) -> Option<(ProcessSource, &'static Keys)> {
    let id = event_text(ev, "EventID")?;
    if id == "1" && event_text(ev, "ProcessGuid").is_some() {
        Some((ProcessSource::Sysmon, &SYSMON))
    } else if id == "4688" && event_text(ev, "NewProcessId").is_some() {
        Some((ProcessSource::Security4688, &SECURITY))
    } else {
        None
    }
}

fn cut(s: String) -> String {
    if s.chars().count() <= MAX_COMMAND_CHARS {
        s
    } else {
        s.chars().take(MAX_COMMAND_CHARS).collect()
    }
}

fn node(k: &Keys, seq: Option<u64>, ev: &J) -> ProcessNode {
    let t = |f: &str| event_text(ev, f);
    ProcessNode {
        seq,
        time: t("@timestamp"),
        image: t(k.image),
        pid: t(k.pid),
        command_line: t(k.command).map(cut),
        user: t("User").or_else(|| t("SubjectUserName")),
    }
}

/// The parent as the child names it (image, id, command line).
fn named_parent(k: &Keys, child: &J) -> ProcessNode {
    let t = |f: &str| event_text(child, f);
    ProcessNode {
        seq: None,
        time: None,
        image: t(k.parent_image),
        pid: t(k.parent_pid),
        command_line: k.parent_command.and_then(t).map(cut),
        user: None,
    }
}

async fn process_tree(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<ProcessTree>> {
    let searches = app.searches.clone();
    searches
        .run(move |budget| tree(&app, &c, &id, budget).map(Json))
        .await
}

pub fn tree(app: &App, c: &Caller, id: &str, budget: &Budget) -> R<ProcessTree> {
    let a = super::alerts::visible_alert(app, c, id)?;
    let empty = ProcessTree {
        source: None,
        process: None,
        ancestors: Vec::new(),
        parent_missing: false,
        missing_parent: None,
        children: Vec::new(),
        more_children: false,
    };
    let Some((source, k)) = kind_of(&a.event) else {
        return Ok(empty);
    };
    // Only the alert's own organisation: a process tree never crosses.
    let org = a
        .org
        .clone()
        .unwrap_or_else(|| crate::state::ROOT_ORG.into());
    let host = event_text(&a.event, "Computer");
    let base = |extra: Vec<Filter>| {
        let mut all = vec![
            taishi_overview::event_filter(&crate::state::Scope::Orgs(vec![org.clone()])),
            Filter::term("EventID", k.event_id),
        ];
        if k.same_host {
            if let Some(h) = &host {
                all.push(Filter::term("Computer", h));
            }
        }
        all.extend(extra);
        Filter::And(all)
    };
    let search = |filter: Filter, range: TimeRange, limit: usize| {
        app.store
            .search_with(
                &SearchRequest {
                    filter,
                    range,
                    limit,
                    offset: 0,
                },
                budget,
            )
            .map_err(|e| app.searches.store_error(e))
    };
    let ts = a.timestamp.with_timezone(&Utc);
    let back = |t: DateTime<Utc>| {
        TimeRange::new(
            t.checked_sub_signed(PARENT_WINDOW).unwrap_or(t),
            t.checked_add_signed(TimeDelta::microseconds(1))
                .unwrap_or(t),
        )
    };
    let seq = a.events.first().copied();
    let mut out = ProcessTree {
        source: Some(source),
        process: Some(node(k, seq, &a.event)),
        ..empty
    };

    // Up: each parent is the newest creation of the id the child names,
    // at or before the child (ids are reused over time).
    let mut child = a.event.clone();
    let mut child_ts = ts;
    let mut seen = vec![event_text(&a.event, k.own)];
    while out.ancestors.len() < MAX_DEPTH {
        let Some(parent_id) = event_text(&child, k.parent) else {
            break;
        };
        let hits = search(
            base(vec![Filter::term(k.own, &parent_id)]),
            back(child_ts),
            1,
        )?;
        let Some(h) = hits.hits.into_iter().next() else {
            out.parent_missing = true;
            out.missing_parent = Some(named_parent(k, &child));
            break;
        };
        let ev = serde_json::to_value(&h.event).unwrap_or(J::Null);
        let own = event_text(&ev, k.own);
        // A loop (a process its own ancestor, from reused ids) ends here.
        if seen.contains(&own) {
            break;
        }
        seen.push(own);
        out.ancestors.push(node(k, Some(h.seq), &ev));
        child_ts = h
            .event
            .timestamp
            .map_or(child_ts, |t| t.with_timezone(&Utc));
        child = ev;
    }

    // Down: creations naming this process as their parent, after it.
    if let Some(own) = event_text(&a.event, k.own) {
        let range = TimeRange::new(ts, ts.checked_add_signed(CHILD_WINDOW).unwrap_or(ts));
        let hits = search(
            base(vec![Filter::term(k.parent, &own)]),
            range,
            MAX_CHILDREN + 1,
        )?;
        out.more_children = hits.hits.len() > MAX_CHILDREN;
        // Newest first from the store: oldest first reads as a timeline.
        let mut kids: Vec<ProcessNode> = hits
            .hits
            .iter()
            .filter(|h| Some(h.seq) != seq)
            .take(MAX_CHILDREN)
            .map(|h| {
                node(
                    k,
                    Some(h.seq),
                    &serde_json::to_value(&h.event).unwrap_or(J::Null),
                )
            })
            .collect();
        kids.reverse();
        out.children = kids;
    }
    Ok(out)
}
