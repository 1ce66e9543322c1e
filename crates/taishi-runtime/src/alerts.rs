//! The alert constructors: what a Sigma match, a correlation hit, an
//! intel hit and a scheduled search over its threshold become. One place, so a hunt's timeline and a service's alert
//! queue say the same of the same event.

use serde_json::{Map, Value as J};
use taishi_alert::{Alert, AlertKind, Level};
use taishi_correlation::CorrelationHit;
use taishi_event::{roles, Event};
use taishi_intel::IntelHit;
use taishi_sigma::Detection;

use crate::rules::CORRELATION_DEFAULT_LEVEL;

/// How much of the event an alert keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The event as JSON and the summary fields: what a stored alert shows.
    Full,
    /// Neither: a hunt's timeline picks its own columns, and copying every
    /// matching event into JSON would cost more than the detection did.
    Bare,
}

/// A Sigma rule (key `key`) matched `ev`, stored as `seq` when it was.
pub fn sigma(d: &Detection, key: &str, ev: &Event, seq: Option<u64>, body: Body) -> Alert {
    let m = &d.meta;
    let mut a = match body {
        Body::Full => Alert::from_event(
            AlertKind::Sigma,
            key,
            m.title.clone(),
            m.level,
            m.tags.clone(),
            ev,
        ),
        Body::Bare => {
            let ts = ev
                .timestamp
                .unwrap_or_else(|| chrono::Utc::now().fixed_offset());
            let mut a = Alert::new(AlertKind::Sigma, key, m.title.clone(), m.level, ts);
            a.tags = m.tags.clone();
            a.host = roles::host(ev);
            a.source_ip = roles::source_ip(ev);
            a.destination_ip = roles::destination_ip(ev);
            a
        }
    };
    a.events = seq.into_iter().collect();
    a.rule_title_zh = zh_title(&d.meta.id, &m.title);
    a
}

/// The shipped zh-CN title of a rule: by its SigmaHQ id, only while the
/// rule still has the English title that was translated.
fn zh_title(id: &Option<String>, title: &str) -> Option<String> {
    taishi_sigma::titles::zh(id.as_deref()?, title).map(str::to_string)
}

/// A correlation rule (key `key`) fired: the group and carried fields are
/// its summary, the hit itself its event.
pub fn correlation(h: &CorrelationHit, key: &str) -> Alert {
    let r = &h.rule;
    let mut a = Alert::new(
        AlertKind::Correlation,
        key,
        r.title.clone(),
        r.level.unwrap_or(CORRELATION_DEFAULT_LEVEL),
        h.last,
    );
    a.tags = r.tags.clone();
    let mut summary = Map::new();
    for (k, v) in h.group.iter().chain(&h.fields) {
        summary.insert(k.clone(), J::String(v.clone()));
    }
    summary.insert("event_count".into(), J::from(h.event_count));
    summary.insert("value".into(), J::from(h.value));
    summary.insert("first".into(), J::String(h.first.to_rfc3339()));
    a.summary = summary;
    let pairs = h
        .group
        .iter()
        .chain(&h.fields)
        .map(|(k, v)| (k.as_str(), v.as_str()));
    a.host = roles::in_pairs(pairs.clone(), roles::HOST);
    a.source_ip = roles::in_pairs(pairs.clone(), roles::SOURCE_IP);
    a.destination_ip = roles::in_pairs(pairs.clone(), roles::DESTINATION_IP);
    a.org = roles::in_pairs(pairs, &[taishi_event::ecs::ORGANIZATION_ID]);
    a.event = h.to_json();
    a.rule_title_zh = zh_title(&r.id, &r.title);
    a
}

/// An indicator kind as a Chinese analyst calls it.
fn indicator_kind_zh(h: &IntelHit) -> &'static str {
    use taishi_intel::IndicatorType as T;
    match h.kind {
        T::Ip => "IP 地址",
        T::Cidr => "网段",
        T::Domain => "域名",
        T::Url => "URL",
        T::Md5 | T::Sha1 | T::Sha256 => "文件哈希",
        T::Email => "邮箱地址",
        T::Ja3 | T::Ja3s | T::Ja4 => "TLS 指纹",
        T::IpPort => "IP:端口",
        _ => "指标",
    }
}

fn indicator_kind(h: &IntelHit) -> String {
    serde_json::to_value(h.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "indicator".into())
}

/// An indicator matched `ev`: the alert carries the indicator's context.
pub fn intel(h: &IntelHit, ev: &Event, seq: Option<u64>) -> Alert {
    let c = &h.context;
    let level = if !c.malware.is_empty() || c.confidence.unwrap_or(50) >= 80 {
        Level::High
    } else {
        Level::Medium
    };
    let kind = indicator_kind(h);
    let key = format!(
        "intel:{}",
        c.id.clone()
            .unwrap_or_else(|| format!("{}:{}", c.source, h.indicator))
    );
    let title = format!(
        "Threat intelligence: {} {} ({})",
        kind,
        h.indicator,
        c.name.as_deref().unwrap_or(&c.source)
    );
    let mut tags: Vec<String> = c
        .attack
        .iter()
        .map(|a| format!("attack.{}", a.to_lowercase()))
        .collect();
    tags.extend(c.labels.iter().map(|l| format!("intel.{l}")));
    let mut a = Alert::from_event(AlertKind::Intel, key, title, level, tags, ev);
    a.rule_title_zh = Some(format!(
        "威胁情报命中：{} {}（{}）",
        indicator_kind_zh(h),
        h.indicator,
        c.name.as_deref().unwrap_or(&c.source)
    ));
    let mut summary = Map::new();
    summary.insert("field".into(), J::String(h.field.to_string()));
    summary.insert("matched".into(), J::String(h.matched.clone()));
    summary.insert("indicator".into(), J::String(h.indicator.clone()));
    summary.insert("indicator.type".into(), J::String(kind));
    summary.insert("intel.source".into(), J::String(c.source.clone()));
    if !c.malware.is_empty() {
        summary.insert("malware".into(), J::String(c.malware.join(", ")));
    }
    if let Some(conf) = c.confidence {
        summary.insert("confidence".into(), J::from(conf));
    }
    a.summary = summary;
    if let J::Object(m) = &mut a.event {
        m.insert(
            "threat.indicator".into(),
            serde_json::to_value(h).unwrap_or(J::Null),
        );
    }
    a.events = seq.into_iter().collect();
    a.retrospective = h.retrospective;
    a
}

/// What a scheduled search found when it ran.
#[derive(Debug, Clone)]
pub struct SearchHit<'a> {
    /// The saved search's id and name (`rule.name` of the alert).
    pub id: &'a str,
    pub name: &'a str,
    pub query: &'a str,
    /// The organisation it belongs to, and whose events it searched.
    pub org: &'a str,
    pub level: Level,
    /// Rows of its table, or matching events.
    pub value: u64,
    pub threshold: u64,
    /// The searched range, `from` inclusive, `to` exclusive.
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    /// The first rows or events of the answer, as the search returned them.
    pub sample: J,
}

/// A scheduled search answered more than its threshold: the alert is the
/// search's (`rule.name` its name, the organisation its own), dated at the
/// end of the searched range.
pub fn scheduled_search(h: &SearchHit<'_>) -> Alert {
    let mut a = Alert::new(
        AlertKind::Search,
        format!("search:{}", h.id),
        h.name.to_string(),
        h.level,
        h.to.fixed_offset(),
    );
    let mut summary = Map::new();
    summary.insert("rule.name".into(), J::String(h.name.to_string()));
    summary.insert("query".into(), J::String(h.query.to_string()));
    summary.insert("value".into(), J::from(h.value));
    summary.insert("threshold".into(), J::from(h.threshold));
    summary.insert("from".into(), J::String(h.from.to_rfc3339()));
    summary.insert("to".into(), J::String(h.to.to_rfc3339()));
    a.summary = summary;
    a.org = Some(h.org.to_string());
    a.event = serde_json::json!({
        "rule.name": h.name,
        "query": h.query,
        "value": h.value,
        "threshold": h.threshold,
        "sample": h.sample,
    });
    a
}

/// The address a finding's entity names on `side` of its arrow
/// (`10.0.0.5 → 203.0.113.9`, `10.0.0.5 → example.com`, `10.0.0.5`).
fn entity_ip(entity: &str, after_arrow: bool) -> Option<String> {
    let part = match entity.split_once('→') {
        Some((a, b)) => {
            if after_arrow {
                b
            } else {
                a
            }
        }
        None if !after_arrow => entity,
        None => return None,
    };
    part.trim()
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// An anomaly detector's finding: the rule is the detector's outcome
/// (`anomaly:beacon`, switchable per organisation like a rule), the level
/// its severity, the tags its ATT&CK techniques, and `context` the whole
/// finding: score, entity, times and every feature with its value,
/// sub-score, whether it fired and its zh-CN/English text (the console's
/// "why" table).
pub fn anomaly(f: &taishi_anomaly::OrgFinding) -> Alert {
    use taishi_anomaly::{Lang, Severity};
    let x = &f.finding;
    let kind = serde_json::to_value(x.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "anomaly".into());
    let level = match x.severity {
        Severity::Low => Level::Low,
        Severity::Medium => Level::Medium,
        Severity::High => Level::High,
        Severity::Critical => Level::Critical,
    };
    let ts = chrono::DateTime::from_timestamp_millis(x.last_ms)
        .unwrap_or_else(chrono::Utc::now)
        .fixed_offset();
    let first = chrono::DateTime::from_timestamp_millis(x.first_ms)
        .unwrap_or_else(chrono::Utc::now)
        .fixed_offset();
    let mut a = Alert::new(
        AlertKind::Anomaly,
        format!("anomaly:{kind}"),
        format!("Anomaly: {}", x.kind.label(Lang::En)),
        level,
        ts,
    );
    // One title per language, as Sigma rules have: the console shows the
    // reader's own (an English page showed both run together).
    a.rule_title_zh = Some(format!("异常：{}", x.kind.label(Lang::Zh)));
    a.tags = x
        .techniques()
        .iter()
        .map(|t| format!("attack.{}", t.to_lowercase()))
        .collect();
    a.tags.push(format!("anomaly.{kind}"));
    a.source_ip = entity_ip(&x.entity, false);
    a.destination_ip = entity_ip(&x.entity, true);
    a.org = f.org.clone();
    let mut summary = Map::new();
    summary.insert("anomaly.kind".into(), J::String(kind.clone()));
    summary.insert("entity".into(), J::String(x.entity.clone()));
    summary.insert("score".into(), J::from((x.score * 1000.0).round() / 1000.0));
    summary.insert("why".into(), J::String(x.summary(Lang::En)));
    summary.insert("why.zh".into(), J::String(x.summary(Lang::Zh)));
    a.summary = summary;
    let mut ctx = serde_json::to_value(x).unwrap_or(J::Null);
    if let J::Object(m) = &mut ctx {
        m.insert(
            "title".into(),
            serde_json::json!({"zh": x.kind.label(Lang::Zh), "en": x.kind.label(Lang::En)}),
        );
        m.insert("first".into(), J::String(first.to_rfc3339()));
        m.insert("last".into(), J::String(ts.to_rfc3339()));
        m.insert(
            "techniques".into(),
            J::from(
                x.techniques()
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>(),
            ),
        );
    }
    a.context = ctx;
    a
}

/// The built-in grading, parsed once (the leak alerts' sensitive kinds and
/// incident grade).
fn grading() -> Option<&'static taishi_pii::Grading> {
    static G: std::sync::OnceLock<Option<taishi_pii::Grading>> = std::sync::OnceLock::new();
    G.get_or_init(|| taishi_pii::Grading::builtin().ok())
        .as_ref()
}

/// Personal information leaving (`pii_leak`): the rule is the leak's kind
/// (`pii:outbound`, `pii:bulk_query`), the level from what left — many
/// people, or sensitive kinds (GB/T 35273: ID numbers, bank cards,
/// secrets) — and `context` the kinds with their counts, the people (with
/// whether the count is exact), the fields and the incident grade those
/// people would make. The event is the masked one, so no value is in it.
pub fn pii(l: &crate::pii_leak::Leak, ev: &Event, seq: u64) -> Alert {
    use crate::pii_leak::LeakRule;
    use taishi_pii::Lang;
    let g = grading();
    let sensitive = l
        .kinds
        .keys()
        .any(|k| g.is_some_and(|g| g.grade(*k).sensitive));
    let level = if l.people >= 1000 {
        Level::High
    } else if sensitive || l.rule == LeakRule::BulkQuery || l.people >= 10 {
        Level::Medium
    } else {
        Level::Low
    };
    let kinds = |lang: Lang| {
        l.kinds
            .iter()
            .map(|(k, n)| format!("{} {n}", k.label(lang)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let approx = if l.people_exact { "" } else { "≤" };
    let (en, zh) = match l.rule {
        LeakRule::Outbound => (
            format!(
                "Personal information sent outside: {} ({approx}{} people)",
                kinds(Lang::En),
                l.people
            ),
            format!(
                "个人信息外发：{}（{approx}{} 人）",
                kinds(Lang::Zh),
                l.people
            ),
        ),
        LeakRule::BulkQuery => (
            format!(
                "Bulk query of personal-information columns: {} ({} rows)",
                l.fields.join(", "),
                l.rows.unwrap_or(0)
            ),
            format!(
                "批量查询个人信息字段：{}（{} 行）",
                l.fields.join(", "),
                l.rows.unwrap_or(0)
            ),
        ),
    };
    let tags = match l.rule {
        LeakRule::Outbound => vec!["attack.exfiltration".into(), "attack.t1567".into()],
        LeakRule::BulkQuery => vec!["attack.collection".into(), "attack.t1213".into()],
    };
    let mut a = Alert::from_event(
        AlertKind::Pii,
        format!("pii:{}", l.rule.code()),
        en,
        level,
        tags,
        ev,
    );
    a.rule_title_zh = Some(zh);
    a.tags.push(format!("pii.{}", l.rule.code()));
    let codes: Map<String, J> = l
        .kinds
        .iter()
        .map(|(k, n)| (k.code().to_string(), J::from(*n)))
        .collect();
    a.summary
        .insert("pii.rule".into(), J::String(l.rule.code().into()));
    if !codes.is_empty() {
        a.summary
            .insert("pii.kinds".into(), J::String(kinds(Lang::En)));
    }
    a.summary.insert("pii.people".into(), J::from(l.people));
    a.summary
        .insert("pii.fields".into(), J::String(l.fields.join(", ")));
    let incident = g.map(|g| g.incident(l.people));
    a.context = serde_json::json!({
        "rule": l.rule.code(),
        "kinds": codes,
        "people": l.people,
        "people_exact": l.people_exact,
        "fields": l.fields,
        "rows": l.rows,
        "incident_grade": incident.map(|i| serde_json::json!({
            "zh": i.label(Lang::Zh),
            "en": i.label(Lang::En),
        })),
    });
    a.events = vec![seq];
    a
}
