//! The situational picture (态势总览): events and alerts over a time
//! range, the threat level, top assets and sources, the ATT&CK matrix.
//!
//! Read-side analytics over the event store and the platform state; the
//! service adds what only it knows (its listeners, its event rate) and
//! answers HTTP with it. Nothing here is HTTP.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use taishi_attack::Attack;
use taishi_enrich::GeoIp;
use taishi_state::{AlertSpan, AlertTime, Scope, State, StateError, ThreatInputs, ROOT_ORG};
use taishi_store::{AggResult, Aggregation, Filter, Store, TimeRange};

/// Why a picture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum OverviewError {
    #[error("event store: {0}")]
    Store(#[from] taishi_store::StoreError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// What a picture is drawn from.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub store: &'a Store,
    pub state: &'a State,
    /// Places the top source addresses.
    pub geo: &'a GeoIp,
    /// The organisations the picture is of (the caller's and those below).
    pub scope: &'a Scope,
}

/// The events of the organisations in `scope`: their `organization.id`,
/// and for a scope with the top organisation, events stored before
/// Taishi had organisations (they carry none and belong to the top).
pub fn event_filter(scope: &Scope) -> Filter {
    let Scope::Orgs(orgs) = scope else {
        return Filter::All;
    };
    let mut any: Vec<Filter> = orgs
        .iter()
        .map(|o| Filter::term(taishi_event::ecs::ORGANIZATION_ID, o))
        .collect();
    if orgs.iter().any(|o| o == ROOT_ORG) {
        any.push(Filter::Not(Box::new(Filter::exists(
            taishi_event::ecs::ORGANIZATION_ID,
        ))));
    }
    Filter::Or(any)
}

/// The threat level of a time range: the overview's gauge for the range
/// shown, and the live stream's for the last 24 hours. Explainable by
/// construction: it is computed from [`ThreatFactor`]s that are returned
/// with it and shown beside the gauge.
///
/// * Only open alerts count (closed ones are shown as `closed`): a threat
///   an analyst has dealt with is not a threat.
/// * Each distinct (rule, host) pair of a level counts once, with the
///   level's weight ([`THREAT_WEIGHTS`]): a rule firing a thousand times on
///   one host is one finding, the same rule on three hosts three.
/// * `score = 100 × (1 − e^(−W / 25))` over the sum `W` of the points: it
///   rises fast for the first findings and saturates, so one critical
///   finding alone is `guarded` (38), three high ones `elevated` (45), five
///   critical `severe` (91).
/// * Levels: below 20 `low`, 40 `guarded`, 60 `elevated`, 80 `high`, else
///   `severe`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Threat {
    /// 0–100.
    pub score: f64,
    /// `low`, `guarded`, `elevated`, `high` or `severe`.
    pub level: &'static str,
    /// Open alerts of the range.
    pub open: u64,
    /// Hosts with an open alert in the range.
    pub hosts: u64,
    /// Alerts of the range already closed (not counted).
    pub closed: u64,
    /// The sum of the factors' points (`W` above).
    pub points: f64,
    /// One per alert level with open alerts, highest first.
    pub factors: Vec<ThreatFactor>,
}

/// One level's part of the threat score.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ThreatFactor {
    /// The alert level (`critical` … `informational`).
    pub level: String,
    /// Open alerts of that level.
    pub alerts: u64,
    /// Distinct (rule, host) pairs among them: what is counted.
    pub findings: u64,
    /// Points per finding.
    pub weight: f64,
    /// `findings × weight`.
    pub points: f64,
}

impl Default for Threat {
    fn default() -> Self {
        Threat {
            score: 0.0,
            level: "low",
            open: 0,
            hosts: 0,
            closed: 0,
            points: 0.0,
            factors: Vec::new(),
        }
    }
}

/// Points per finding, by level rank (informational, low, medium, high,
/// critical): one critical weighs as much as 24 lows.
pub const THREAT_WEIGHTS: [f64; 5] = [0.0, 0.5, 2.0, 5.0, 12.0];
/// The `W` at which the score reaches 63 (1 − 1/e).
const THREAT_SCALE: f64 = 25.0;

/// The threat of the open alerts in `[from, to)` by the `time` chosen.
pub fn threat(
    state: &State,
    scope: &Scope,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    time: AlertTime,
) -> Result<Threat, StateError> {
    let i = state.threat_inputs(from.timestamp_micros(), to.timestamp_micros(), time, scope)?;
    Ok(threat_of(&i))
}

/// The score of given inputs (see [`Threat`]).
pub fn threat_of(i: &ThreatInputs) -> Threat {
    let factors: Vec<ThreatFactor> = (0..5)
        .rev()
        .filter(|&l| i.open[l] > 0)
        .map(|l| ThreatFactor {
            level: taishi_alert::Level::from_rank(l as i64).name().to_string(),
            alerts: i.open[l],
            findings: i.pairs[l],
            weight: THREAT_WEIGHTS[l],
            points: THREAT_WEIGHTS[l] * i.pairs[l] as f64,
        })
        .collect();
    let points: f64 = factors.iter().map(|f| f.points).sum();
    let score = 100.0 * (1.0 - (-points / THREAT_SCALE).exp());
    let level = match score {
        s if s < 20.0 => "low",
        s if s < 40.0 => "guarded",
        s if s < 60.0 => "elevated",
        s if s < 80.0 => "high",
        _ => "severe",
    };
    Threat {
        score: (score * 10.0).round() / 10.0,
        level,
        open: i.open.iter().sum(),
        hosts: i.hosts,
        closed: i.closed,
        points,
        factors,
    }
}

fn interval_for(span: TimeDelta) -> TimeDelta {
    let target = span.num_seconds().max(60) / 60;
    for s in [
        60,
        300,
        600,
        1800,
        3600,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        86_400,
        7 * 86_400,
    ] {
        if s >= target {
            return TimeDelta::seconds(s);
        }
    }
    TimeDelta::days(7)
}

/// Several consoles (a wall screen, analysts' tabs) refreshing the same
/// range share one computation for a few seconds; a change to alerts makes
/// a fresh one. One per service ([`App`]), so two services in one process
/// (tests, benchmarks) never see each other's pictures.
#[derive(Default)]
pub struct OverviewCache {
    entries: Mutex<HashMap<CacheKey, (Instant, Overview)>>,
}

/// `from` and `to` as the client sent them, the alert time chosen, the
/// alert generation, and the scope (two organisations never share a
/// picture).
type CacheKey = (String, String, AlertTime, u64, String);

const OVERVIEW_TTL: Duration = Duration::from_secs(5);

impl OverviewCache {
    /// The picture of `range`, computed at most once per
    /// [`OVERVIEW_TTL`] and alert generation for the same `from` and `to`
    /// parameters as the client sent them (blocking).
    pub fn get(
        &self,
        src: Sources,
        (from, to): (&str, &str),
        range: TimeRange,
        time: AlertTime,
    ) -> Result<Overview, OverviewError> {
        let scope = match src.scope {
            Scope::All => "*".to_string(),
            Scope::Orgs(v) => v.join(","),
        };
        let key = (
            from.to_string(),
            to.to_string(),
            time,
            src.state.generation(),
            scope,
        );
        {
            let c = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((t, v)) = c.get(&key) {
                if t.elapsed() < OVERVIEW_TTL {
                    return Ok(v.clone());
                }
            }
        }
        let v = overview(src, range, time)?;
        let mut c = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        c.retain(|_, (t, _)| t.elapsed() < OVERVIEW_TTL);
        c.insert(key, (Instant::now(), v.clone()));
        Ok(v)
    }
}

/// The picture of a time range (`GET /api/v1/overview`, with the
/// service's listeners and event rate beside it).
#[derive(Clone, Serialize, JsonSchema)]
pub struct Overview {
    pub from: String,
    pub to: String,
    /// `low`, `guarded`, `elevated`, `high` or `severe` (of the range:
    /// `threat.level`).
    pub threat_level: &'static str,
    /// 0–100 (`threat.score`).
    pub threat_score: f64,
    /// The threat level of the range with the factors it comes from.
    pub threat: Threat,
    /// Which alert time the range selects alerts by (events always by
    /// their own time).
    pub time: AlertTime,
    pub events_total: u64,
    pub alerts_total: u64,
    pub alerts_open: u64,
    pub interval_ms: i64,
    pub events_over_time: Vec<TimeCount>,
    pub alerts_over_time: Vec<LevelsAt>,
    pub alerts_by_level: LevelCounts,
    pub alerts_by_rule: Vec<RuleCount>,
    pub top_assets: Vec<AssetCount>,
    pub top_sources: Vec<SourceCount>,
    pub attack_matrix: Vec<MatrixCell>,
}

#[derive(Clone, Serialize, JsonSchema)]
pub struct TimeCount {
    pub t: String,
    pub count: u64,
}

/// Alerts of each level.
#[derive(Clone, Copy, Serialize, JsonSchema)]
pub struct LevelCounts {
    pub informational: u64,
    pub low: u64,
    pub medium: u64,
    pub high: u64,
    pub critical: u64,
}

impl From<[u64; 5]> for LevelCounts {
    fn from([informational, low, medium, high, critical]: [u64; 5]) -> Self {
        LevelCounts {
            informational,
            low,
            medium,
            high,
            critical,
        }
    }
}

/// Alerts of each level in one interval starting at `t`.
#[derive(Clone, Serialize, JsonSchema)]
pub struct LevelsAt {
    pub t: String,
    #[serde(flatten)]
    pub levels: LevelCounts,
}

#[derive(Clone, Serialize, JsonSchema)]
pub struct RuleCount {
    pub rule_id: String,
    pub title: String,
    /// The title in zh-CN where the shipped titles data has it.
    pub title_zh: Option<String>,
    pub level: String,
    pub count: u64,
}

#[derive(Clone, Serialize, JsonSchema)]
pub struct AssetCount {
    pub host: String,
    pub count: u64,
    pub max_level: String,
}

/// A source address of alerts, with its place when the GeoIP databases
/// know it.
#[derive(Clone, Serialize, JsonSchema)]
pub struct SourceCount {
    pub ip: String,
    pub count: u64,
    #[serde(flatten)]
    pub geo: Option<SourceGeo>,
}

#[derive(Clone, Serialize, JsonSchema)]
pub struct SourceGeo {
    pub country_iso_code: Option<String>,
    pub country_name: Option<String>,
    pub country_name_zh: Option<String>,
    pub city_name: Option<String>,
    pub city_name_zh: Option<String>,
    /// ISO 3166-2 (`CN-GD`): the China map shades provinces by it.
    pub region_iso_code: Option<String>,
    pub region_name: Option<String>,
    pub region_name_zh: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub as_organization: Option<String>,
}

/// Alerts of one technique under one tactic. A technique is under the
/// tactics ATT&CK maps it to (taishi-attack's data) that its rule also
/// tags, or under all of them when the rule tags none of them; a technique
/// newer than the data is under the rule's tactics.
#[derive(Clone, Serialize, JsonSchema)]
pub struct MatrixCell {
    /// The tactic's tag in snake case, ATT&CK v19 names (`stealth`,
    /// `defense_impairment`, ...; a rule's `defense-evasion` counts as
    /// `stealth`), or `unknown` when neither the data nor the rule gives one.
    pub tactic: String,
    /// `T1059.001`.
    pub technique: String,
    pub count: u64,
}

fn source(geo: &GeoIp, ip: &str, count: u64) -> SourceCount {
    let geo = ip
        .parse::<std::net::IpAddr>()
        .ok()
        .and_then(|a| geo.lookup(a).ok())
        .map(|g| SourceGeo {
            country_iso_code: g.country_iso_code,
            country_name: g.country_name,
            country_name_zh: g.country_name_zh,
            city_name: g.city_name,
            city_name_zh: g.city_name_zh,
            region_iso_code: g.region_iso_code,
            region_name: g.region_name,
            region_name_zh: g.region_name_zh,
            lat: g.lat,
            lon: g.lon,
            as_organization: g.as_organization,
        });
    SourceCount {
        ip: ip.to_string(),
        count,
        geo,
    }
}

/// Computes the picture of a time range.
pub fn overview(
    src: Sources,
    range: TimeRange,
    time: AlertTime,
) -> Result<Overview, OverviewError> {
    let span = range.to - range.from;
    let interval = interval_for(span);
    let hist = src.store.aggregate(
        &event_filter(src.scope),
        range,
        &Aggregation::DateHistogram {
            interval,
            split: None,
        },
    )?;
    let events_over_time: Vec<TimeCount> = match &hist {
        AggResult::DateHistogram(b) => b
            .iter()
            .map(|b| TimeCount {
                t: b.start.to_rfc3339(),
                count: b.count,
            })
            .collect(),
        _ => Vec::new(),
    };
    let events_total: u64 = match &hist {
        AggResult::DateHistogram(b) => b.iter().map(|b| b.count).sum(),
        _ => 0,
    };
    let (fu, tu) = (range.from.timestamp_micros(), range.to.timestamp_micros());
    let (alerts_total, alerts_open, by_level) = src.state.alert_counts(fu, tu, time, src.scope)?;

    let step = interval.num_microseconds().unwrap_or(i64::MAX).max(1);
    let start = fu - fu.rem_euclid(step);
    let nb = ((tu - start) / step + 1).clamp(1, 10_000) as usize;
    let agg = src.state.alert_overview(
        AlertSpan {
            from_us: fu,
            to_us: tu,
            time,
        },
        start,
        step,
        20,
        src.scope,
    )?;
    let mut over = vec![[0u64; 5]; nb];
    for (b, level, n) in &agg.over_time {
        over[(*b).clamp(0, nb as i64 - 1) as usize][(*level).clamp(0, 4) as usize] += n;
    }
    let mut matrix: HashMap<(String, String), u64> = HashMap::new();
    let attack = Attack::embedded();
    for (_, _, _, n, tags) in &agg.rules {
        let attack_tags = || tags.iter().filter_map(|t| t.strip_prefix("attack."));
        let tactics: Vec<usize> = attack_tags().filter_map(|t| attack.tactic(t)).collect();
        let techniques = attack_tags().filter(|t| {
            t.starts_with('t') && t[1..].chars().next().is_some_and(|c| c.is_ascii_digit())
        });
        // ATT&CK's own mapping decides the column: a rule tagged
        // command-and-control with T1071 and T1027 does not make T1027 a
        // C2 technique (taishi_attack::Attack::placement).
        for te in techniques {
            let te = te.to_uppercase();
            let columns = attack.placement(&te, &tactics);
            if columns.is_empty() {
                *matrix.entry(("unknown".into(), te)).or_default() += n;
                continue;
            }
            for ta in columns {
                *matrix
                    .entry((attack.tactics()[ta].key(), te.clone()))
                    .or_default() += n;
            }
        }
    }
    let alerts_over_time: Vec<LevelsAt> = over
        .iter()
        .enumerate()
        .map(|(i, c)| LevelsAt {
            t: DateTime::from_timestamp_micros(start + i as i64 * step)
                .unwrap_or_default()
                .to_rfc3339(),
            levels: (*c).into(),
        })
        .collect();
    let sources: Vec<(&str, u64)> = agg
        .sources
        .iter()
        .filter(|(s, _)| s.parse::<std::net::IpAddr>().is_ok())
        .map(|(s, n)| (s.as_str(), *n))
        .collect();
    let mut matrix: Vec<_> = matrix.into_iter().collect();
    matrix.sort_by_key(|m| std::cmp::Reverse(m.1));
    let threat = threat(src.state, src.scope, (range.from, range.to), time)?;
    let level = |l: &i64| taishi_alert::Level::from_rank(*l).name().to_string();
    Ok(Overview {
        from: range.from.to_rfc3339(),
        to: range.to.to_rfc3339(),
        threat_level: threat.level,
        threat_score: threat.score,
        time,
        threat,
        events_total,
        alerts_total,
        alerts_open,
        interval_ms: interval.num_milliseconds(),
        events_over_time,
        alerts_over_time,
        alerts_by_level: by_level.into(),
        alerts_by_rule: agg
            .rules
            .iter()
            .take(20)
            .map(|(id, t, l, n, _)| RuleCount {
                rule_id: id.clone(),
                title: t.clone(),
                title_zh: taishi_sigma::titles::zh(id, t).map(str::to_string),
                level: level(l),
                count: *n,
            })
            .collect(),
        top_assets: agg
            .hosts
            .iter()
            .take(10)
            .map(|(h, n, l)| AssetCount {
                host: h.clone(),
                count: *n,
                max_level: level(l),
            })
            .collect(),
        top_sources: sources
            .iter()
            .take(20)
            .map(|(ip, n)| source(src.geo, ip, *n))
            .collect(),
        attack_matrix: matrix
            .iter()
            .take(200)
            .map(|((ta, te), n)| MatrixCell {
                tactic: ta.clone(),
                technique: te.clone(),
                count: *n,
            })
            .collect(),
    })
}
