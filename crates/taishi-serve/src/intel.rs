//! Threat intelligence inside the service: every event is matched against
//! the loaded indicators as it arrives, and each import is followed by a
//! retro-hunt over the stored window, whose hits are raised as
//! retrospective alerts.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use chrono::{TimeDelta, Utc};
use serde_json::{json, Map, Value as J};
use taishi_event::Event;
use taishi_intel::{import_source, retro, ImportReport, IndicatorStore, IntelHit, Matcher, Source};

use crate::state::{now_iso, Alert};

pub struct Intel {
    store: Mutex<IndicatorStore>,
    matcher: ArcSwap<Matcher>,
    uploads: PathBuf,
    /// How far back a new indicator is looked for.
    pub retro_window: TimeDelta,
}

impl Intel {
    pub fn open(dir: PathBuf, retro_days: u32) -> anyhow::Result<Intel> {
        let store = IndicatorStore::open(&dir)?;
        let matcher = store.load_matcher()?;
        let uploads = dir.join("uploads");
        std::fs::create_dir_all(&uploads)?;
        Ok(Intel {
            store: Mutex::new(store),
            matcher: ArcSwap::from_pointee(matcher),
            uploads,
            retro_window: TimeDelta::days(i64::from(retro_days.max(1))),
        })
    }

    pub fn matcher(&self) -> Arc<Matcher> {
        self.matcher.load_full()
    }

    fn rebuild(&self, store: &IndicatorStore) -> anyhow::Result<()> {
        let m = store.load_matcher()?;
        self.matcher.store(Arc::new(m));
        Ok(())
    }

    /// Imports an uploaded feed file as source `name` (replacing that
    /// source's earlier indicators) and swaps in a new matcher.
    pub fn import_bytes(
        &self,
        name: &str,
        format: Option<&str>,
        data: &[u8],
    ) -> anyhow::Result<ImportReport> {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let safe = safe.trim_start_matches('.');
        if safe.is_empty() {
            anyhow::bail!("name: give the source a name (letters, digits, - _ .)");
        }
        let path = self.uploads.join(safe);
        std::fs::write(&path, data)?;
        let format = format
            .map(|f| {
                f.parse::<taishi_intel::import::Format>()
                    .map_err(anyhow::Error::msg)
            })
            .transpose()?;
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let report = import_source(&mut store, &Source::Path(path), format.as_ref(), Some(name))?;
        self.rebuild(&store)?;
        Ok(report)
    }

    /// Sources with their counts, for the console and the API.
    pub fn sources(&self) -> J {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let stats = self.matcher().stats().clone();
        json!({
            "sources": serde_json::to_value(store.sources()).unwrap_or(J::Null),
            "matcher": {"indicators": self.matcher().len(), "stats": format!("{stats:?}")},
        })
    }

    /// Indicators whose value contains `q`, at most `limit`.
    pub fn search(&self, q: &str, limit: usize) -> anyhow::Result<J> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let q = q.to_lowercase();
        let mut items = Vec::new();
        let mut total = 0u64;
        for ind in store.all()? {
            let v = serde_json::to_value(&ind)?;
            if q.is_empty() || v.to_string().to_lowercase().contains(&q) {
                total += 1;
                if items.len() < limit {
                    items.push(v);
                }
            }
        }
        Ok(json!({"total": total, "items": items}))
    }

    /// Retro-hunt over the event store for the indicators an import added.
    pub fn retro_hunt(
        &self,
        events: &taishi_store::Store,
        report: &ImportReport,
    ) -> anyhow::Result<Vec<Alert>> {
        if report.new_indicators.is_empty() {
            return Ok(Vec::new());
        }
        let lists = {
            let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            store.warninglists()?.0
        };
        let res = retro::hunt(
            events,
            &report.new_indicators,
            &lists,
            self.retro_window,
            Utc::now(),
        )?;
        let mut out = Vec::new();
        for (ev, hits) in &res.matches {
            for h in hits {
                out.push(alert_from_hit(h, ev, None));
            }
        }
        Ok(out)
    }
}

fn kind_name(h: &IntelHit) -> String {
    serde_json::to_value(h.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "indicator".into())
}

/// An alert carrying the indicator's context.
pub fn alert_from_hit(h: &IntelHit, ev: &Event, seq: Option<u64>) -> Alert {
    let c = &h.context;
    let ts = ev.timestamp.unwrap_or_else(|| Utc::now().fixed_offset());
    let level = if !c.malware.is_empty() || c.confidence.unwrap_or(50) >= 80 {
        "high"
    } else {
        "medium"
    };
    let mut summary = Map::new();
    summary.insert("field".into(), J::String(h.field.to_string()));
    summary.insert("matched".into(), J::String(h.matched.clone()));
    summary.insert("indicator".into(), J::String(h.indicator.clone()));
    summary.insert("indicator.type".into(), J::String(kind_name(h)));
    summary.insert("intel.source".into(), J::String(c.source.clone()));
    if !c.malware.is_empty() {
        summary.insert("malware".into(), J::String(c.malware.join(", ")));
    }
    if let Some(conf) = c.confidence {
        summary.insert("confidence".into(), J::from(conf));
    }
    let mut tags: Vec<String> = c
        .attack
        .iter()
        .map(|a| format!("attack.{}", a.to_lowercase()))
        .collect();
    tags.extend(c.labels.iter().map(|l| format!("intel.{l}")));
    let now = now_iso();
    let mut event = serde_json::from_str::<J>(&ev.to_json_string()).unwrap_or(J::Null);
    if let J::Object(m) = &mut event {
        m.insert(
            "threat.indicator".into(),
            serde_json::to_value(h).unwrap_or(J::Null),
        );
    }
    Alert {
        id: format!(
            "{:013x}{}",
            ts.timestamp_millis().max(0),
            crate::auth::random_hex(6)
        ),
        kind: "intel".into(),
        rule_id: format!(
            "intel:{}",
            c.id.clone()
                .unwrap_or_else(|| format!("{}:{}", c.source, h.indicator))
        ),
        rule_title: format!(
            "Threat intelligence: {} {} ({})",
            kind_name(h),
            h.indicator,
            c.name.as_deref().unwrap_or(&c.source)
        ),
        level: level.into(),
        tags,
        timestamp: ts,
        host: crate::pipeline::host_of(ev),
        source_ip: crate::pipeline::source_ip_of(ev),
        destination_ip: crate::pipeline::destination_ip_of(ev),
        summary,
        events: seq.into_iter().collect(),
        event,
        status: "new".into(),
        resolution: None,
        assignee: None,
        retrospective: h.retrospective,
        created: now.clone(),
        updated: now,
    }
}
