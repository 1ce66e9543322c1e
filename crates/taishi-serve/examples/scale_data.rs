//! Builds a `taishi serve` data directory at console scale for
//! `scripts/console-scale`: synthetic events written straight into the
//! event store (not through HTTP, so 10 M events take minutes) and alerts
//! written through `State::insert_alerts`, as the pipeline writes them.
//!
//!     cargo run --release -p taishi-serve --example scale_data -- \
//!         --dir /tmp/taishi-scale/data --events 10000000 --alerts 100000 \
//!         --password scale-admin [--rules ../shared/data/sigma/rules/windows]
//!
//! Events spread evenly over the last `--days` (7) up to now: Zeek
//! connections, Windows process creations and sshd lines
//! (`taishi_testdata::synthetic`). Alerts: real Sigma rule titles, levels and
//! ATT&CK tags when `--rules` is given (else a built-in list), hosts and
//! sources of the events, mixed statuses, one in twenty from threat intel.
//! The `admin` user gets `--password`. A directory already built with the
//! same counts is reused (its `scale.json` says what is in it).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use taishi_alert::{AlertKind, AlertStatus, Level, Resolution};
use taishi_event::Event;
use taishi_serve::state::{Alert, State};
use taishi_store::{Store, StoreConfig};
use taishi_testdata::synthetic::{self, Rng};

struct Args {
    dir: PathBuf,
    events: u64,
    alerts: u64,
    days: i64,
    password: String,
    rules: Option<PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        dir: PathBuf::from("/tmp/taishi-scale/data"),
        events: 10_000_000,
        alerts: 100_000,
        days: 7,
        password: "scale-admin".into(),
        rules: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k}: needs a value"));
        match k.as_str() {
            "--dir" => a.dir = v()?.into(),
            "--events" => a.events = v()?.parse().context("--events: a number")?,
            "--alerts" => a.alerts = v()?.parse().context("--alerts: a number")?,
            "--days" => a.days = v()?.parse().context("--days: a number")?,
            "--password" => a.password = v()?,
            "--rules" => a.rules = Some(v()?.into()),
            other => bail!(
                "unknown argument `{other}` (use --dir, --events, --alerts, --days, --password, --rules)"
            ),
        }
    }
    if a.days < 1 {
        bail!("--days: at least 1");
    }
    Ok(a)
}

/// Public addresses the MaxMind test databases know, so the overview's
/// source map has places to show.
const GEO_IPS: [&str; 8] = [
    "81.2.69.142",
    "216.160.83.56",
    "89.160.20.112",
    "2.125.160.216",
    "175.16.199.1",
    "67.43.156.1",
    "202.196.224.1",
    "149.101.100.1",
];

struct RuleDef {
    id: String,
    title: String,
    level: String,
    tags: Vec<String>,
}

fn rules(path: Option<&PathBuf>) -> anyhow::Result<Vec<RuleDef>> {
    if let Some(p) = path {
        let set = taishi_sigma::RuleSet::load_paths(std::slice::from_ref(p))
            .map_err(anyhow::Error::msg)?;
        let v: Vec<RuleDef> = set
            .rules
            .iter()
            .filter_map(|r| {
                Some(RuleDef {
                    id: r.meta.id.clone()?,
                    title: r.meta.title.clone(),
                    level: r.meta.level.name().into(),
                    tags: r.meta.tags.clone(),
                })
            })
            .take(400)
            .collect();
        if !v.is_empty() {
            return Ok(v);
        }
        eprintln!("scale_data: no rules with ids under {}", p.display());
    }
    let tactics = [
        "execution",
        "persistence",
        "defense-evasion",
        "credential-access",
        "discovery",
        "lateral-movement",
        "command-and-control",
    ];
    Ok((0..120)
        .map(|i| RuleDef {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            title: format!("Synthetic detection {i}"),
            level: ["low", "medium", "medium", "high", "high", "critical"][i % 6].into(),
            tags: vec![
                format!("attack.{}", tactics[i % tactics.len()]),
                format!("attack.t{}", 1000 + (i * 37) % 600),
            ],
        })
        .collect())
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let marker = a.dir.join("scale.json");
    let want = json!({"events": a.events, "alerts": a.alerts, "days": a.days});
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let have: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if have["events"] == want["events"] && have["alerts"] == want["alerts"] {
            println!("scale_data: reusing {} ({text})", a.dir.display());
            return Ok(());
        }
        bail!(
            "{} holds another data set ({text}); remove the directory or pick another --dir",
            a.dir.display()
        );
    }
    if a.dir.join("events").exists() || a.dir.join("state.db").exists() {
        bail!(
            "{} has data but no scale.json (an interrupted build?); remove it and run again",
            a.dir.display()
        );
    }
    std::fs::create_dir_all(&a.dir)
        .with_context(|| format!("cannot create {}", a.dir.display()))?;
    let now = Utc::now();
    let start = now - TimeDelta::days(a.days);

    // Alerts first (seconds), so a server can be pointed at a half-built
    // directory while the events are still being written.
    let state = State::open(&a.dir.join("state.db"))?;
    let hash = taishi_auth::hash_password(&a.password)?;
    let roles: Vec<String> = taishi_auth::LEGACY_ADMIN
        .iter()
        .map(|r| r.id().to_string())
        .collect();
    state.create_user("admin", taishi_serve::state::ROOT_ORG, &roles, &hash)?;
    let defs = rules(a.rules.as_ref())?;
    let t = Instant::now();
    write_alerts(&state, &defs, a.alerts, start, now, a.events)?;
    println!(
        "scale_data: {} alerts from {} rules in {:.1} s",
        a.alerts,
        defs.len(),
        t.elapsed().as_secs_f64()
    );
    drop(state);

    let t = Instant::now();
    write_events(&a.dir.join("events"), a.events, start, now)?;
    println!(
        "scale_data: {} events in {:.1} s",
        a.events,
        t.elapsed().as_secs_f64()
    );
    std::fs::write(&marker, want.to_string())?;
    Ok(())
}

fn write_alerts(
    state: &State,
    defs: &[RuleDef],
    total: u64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    events: u64,
) -> anyhow::Result<()> {
    let mut r = Rng(0x5DEE_CE66_D1CE_4E5B);
    let span = (end - start).num_microseconds().unwrap_or(1).max(1) as u64;
    let mut batch = Vec::with_capacity(1000);
    for i in 0..total {
        let ts_us = start.timestamp_micros() + r.below(span) as i64;
        let ts = DateTime::from_timestamp_micros(ts_us)
            .unwrap_or(end)
            .fixed_offset();
        let intel = r.below(20) == 0;
        let host = format!("WS{:04}.corp.example", r.skewed(800));
        let src = if r.below(3) == 0 {
            GEO_IPS[r.skewed(GEO_IPS.len() as u64) as usize].to_string()
        } else {
            synthetic::ip4(&mut r, "10.1", 5000)
        };
        let (rule_id, title, level, tags, kind) = if intel {
            let ind = GEO_IPS[r.below(GEO_IPS.len() as u64) as usize];
            (
                format!("intel:feodo:{ind}"),
                format!("Threat intelligence: ipv4-addr {ind} (abuse.ch Feodo)"),
                if r.below(3) == 0 { "high" } else { "medium" }.to_string(),
                vec![
                    "attack.command-and-control".to_string(),
                    "intel.botnet_cc".into(),
                ],
                "intel",
            )
        } else {
            let d = &defs[r.skewed(defs.len() as u64) as usize];
            (
                d.id.clone(),
                d.title.clone(),
                d.level.clone(),
                d.tags.clone(),
                "sigma",
            )
        };
        let status = match r.below(10) {
            0..=5 => "new",
            6 | 7 => "acknowledged",
            _ => "closed",
        };
        let user = synthetic::USERS[r.skewed(synthetic::USERS.len() as u64) as usize];
        let image = synthetic::IMAGES[r.skewed(synthetic::IMAGES.len() as u64) as usize];
        let mut summary = serde_json::Map::new();
        summary.insert("host.name".into(), json!(host));
        summary.insert("user.name".into(), json!(user));
        summary.insert("process.executable".into(), json!(image));
        // Sequences as the store numbers them: events are written in time
        // order, so an alert's time maps to a nearby sequence.
        let seq =
            ((ts_us - start.timestamp_micros()) as u128 * events as u128 / span as u128) as u64 + 1;
        let created = ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut a = taishi_alert::Alert::new(
            if intel {
                AlertKind::Intel
            } else {
                AlertKind::Sigma
            },
            rule_id,
            title,
            Level::parse(&level).unwrap_or_default(),
            ts,
        );
        a.id = format!("{:013x}{:012x}", ts.timestamp_millis().max(0), i);
        a.tags = tags;
        a.host = Some(host.clone());
        a.source_ip = Some(src.clone());
        a.destination_ip = Some(synthetic::ip4(&mut r, "192.168", 400));
        a.summary = summary;
        a.events = vec![seq];
        a.event = json!({
            "@timestamp": created, "host.name": host, "source.ip": src,
            "user.name": user, "process.executable": image,
            "event.code": "4688", "event.category": "process",
        });
        a.retrospective = intel && r.below(2) == 0;
        let _ = kind;
        batch.push(Alert {
            alert: a,
            status: AlertStatus::parse(status).unwrap_or_default(),
            resolution: (status == "closed").then(|| {
                if r.below(2) == 0 {
                    Resolution::FalsePositive
                } else {
                    Resolution::TruePositive
                }
            }),
            assignee: (status != "new").then(|| "admin".to_string()),
            created: created.clone(),
            updated: created,
        });
        if batch.len() == 1000 {
            state.insert_alerts(&batch)?;
            batch.clear();
        }
    }
    state.insert_alerts(&batch)?;
    Ok(())
}

fn write_events(
    dir: &std::path::Path,
    total: u64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> anyhow::Result<()> {
    let store = Store::open(dir, StoreConfig::default())?;
    let span = (end - start).num_microseconds().unwrap_or(1).max(1);
    let step = (span / total.max(1) as i64).max(1);
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let t = Instant::now();
    let mut n = 0u64;
    let mut last_report = 0u64;
    while n < total {
        let batch: Vec<Event> = (n..(n + 5000).min(total))
            .map(|i| {
                let ts = start + TimeDelta::microseconds(step * i as i64);
                match r.below(10) {
                    0..=3 => synthetic::network(&mut r, ts, i),
                    4..=7 => synthetic::windows(&mut r, ts, i),
                    _ => synthetic::syslog(&mut r, ts, i),
                }
            })
            .collect();
        store.append_batch(&batch)?;
        store.commit()?;
        n += batch.len() as u64;
        if n - last_report >= 500_000 || n == total {
            store.checkpoint()?;
            last_report = n;
            println!(
                "scale_data: {n} events ({:.0}/s)",
                n as f64 / t.elapsed().as_secs_f64().max(0.001)
            );
        }
    }
    store.close()?;
    Ok(())
}
