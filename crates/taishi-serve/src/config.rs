//! `taishi.toml`: every setting of the service, with defaults that make
//! `taishi serve` work with no file at all.
//!
//! Unknown keys are collected (all of them, with their paths) rather than
//! stopping at the first, so `taishi config check` can name every mistake
//! in one run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// Where events, alerts, state and checkpoints live.
    pub data_dir: PathBuf,
    pub http: HttpSection,
    pub store: StoreSection,
    pub detection: DetectionSection,
    /// `[search]`: bounds on one query.
    pub search: SearchSection,
    /// Listeners besides the HTTP one (which always runs).
    pub listeners: Vec<Listener>,
    /// `[enrich]`: GeoIP/ASN databases.
    pub enrich: taishi_enrich::EnrichConfig,
    /// `[intel]`: threat-intelligence matching.
    pub intel: IntelSection,
    /// `[alerts]`: grouping, suppression and outputs.
    pub alerts: taishi_alert::AlertsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("taishi-data"),
            http: HttpSection::default(),
            store: StoreSection::default(),
            detection: DetectionSection::default(),
            search: SearchSection::default(),
            listeners: Vec::new(),
            enrich: taishi_enrich::EnrichConfig::default(),
            alerts: taishi_alert::AlertsConfig::default(),
            intel: IntelSection::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct HttpSection {
    /// The console, the API, `/metrics` and HTTP ingest.
    pub listen: SocketAddr,
    /// Lifetime of a console session, in hours.
    pub session_hours: u64,
    /// Largest ingest request body, in MiB.
    pub max_body_mib: usize,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 8600)),
            session_hours: 12,
            max_body_mib: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct StoreSection {
    /// Partitions older than this are deleted (Cybersecurity Law Art. 21:
    /// at least six months).
    pub retention_days: u32,
    /// Oldest partitions are deleted while the store is larger (GiB; 0: no limit).
    pub max_size_gib: f64,
    /// How soon stored events become searchable, in milliseconds.
    pub refresh_ms: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            retention_days: 180,
            max_size_gib: 0.0,
            refresh_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct DetectionSection {
    /// Sigma rule files or folders (uploaded rules are added to these).
    pub rules: Vec<PathBuf>,
    /// Processing pipelines (built-in names or YAML files); empty: chosen
    /// by each event's layout.
    pub pipelines: Vec<String>,
    /// Alerts below this level are not raised.
    pub min_level: String,
    /// Matches of a correlation may be this late (seconds of event time).
    pub correlation_lateness_s: u64,
    /// Largest rule file read, uploaded or validated, in bytes.
    pub max_rule_file_bytes: usize,
    /// Most YAML nodes in one rule file once its aliases are expanded.
    pub max_rule_yaml_nodes: usize,
}

impl DetectionSection {
    pub fn load_limits(&self) -> taishi_sigma::LoadLimits {
        taishi_sigma::LoadLimits {
            max_file_bytes: self.max_rule_file_bytes,
            max_yaml_nodes: self.max_rule_yaml_nodes,
        }
    }
}

/// Bounds on one search query (the API's `/search` and `/fields`): every
/// viewer may send one, so its nesting and size are limited before it runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SearchSection {
    /// Deepest nesting of parentheses and NOT/-/+ prefixes (at most 256).
    pub max_depth: usize,
    /// Most terms (field tests, words, stage items) in one query.
    pub max_clauses: usize,
}

impl Default for SearchSection {
    fn default() -> Self {
        SearchSection {
            max_depth: taishi_query::DEFAULT_MAX_DEPTH,
            max_clauses: taishi_query::DEFAULT_MAX_CLAUSES,
        }
    }
}

impl SearchSection {
    pub fn limits(&self) -> taishi_query::Limits {
        taishi_query::Limits {
            max_depth: self.max_depth,
            max_clauses: self.max_clauses,
        }
    }
}

impl Default for DetectionSection {
    fn default() -> Self {
        DetectionSection {
            rules: Vec::new(),
            pipelines: Vec::new(),
            min_level: "low".into(),
            correlation_lateness_s: 60,
            max_rule_file_bytes: taishi_sigma::load::DEFAULT_MAX_FILE_BYTES,
            max_rule_yaml_nodes: taishi_sigma::load::DEFAULT_MAX_YAML_NODES,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct IntelSection {
    /// Match every event against the loaded indicators.
    pub enabled: bool,
    /// When an indicator is added, stored events this many days back are
    /// searched for earlier contact.
    pub retro_days: u32,
    /// Pull the scheduled feeds (`taishi intel feeds add`, or
    /// `POST /api/v1/intel/feeds`) inside the service.
    pub feeds: bool,
    /// How often the feed list is checked for feeds that are due.
    pub feed_check_secs: u64,
}

impl Default for IntelSection {
    fn default() -> Self {
        IntelSection {
            enabled: true,
            retro_days: 30,
            feeds: true,
            feed_check_secs: 30,
        }
    }
}

/// A listener: `type` selects the protocol.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Listener {
    SyslogUdp {
        #[serde(default)]
        name: Option<String>,
        listen: SocketAddr,
    },
    SyslogTcp {
        #[serde(default)]
        name: Option<String>,
        listen: SocketAddr,
    },
    SyslogTls {
        #[serde(default)]
        name: Option<String>,
        listen: SocketAddr,
        cert: PathBuf,
        key: PathBuf,
        /// CA bundle: when set, clients must present a certificate it signed.
        #[serde(default)]
        client_ca: Option<PathBuf>,
    },
    Netflow {
        #[serde(default)]
        name: Option<String>,
        listen: SocketAddr,
    },
    Tail {
        #[serde(default)]
        name: Option<String>,
        paths: Vec<PathBuf>,
        /// Decoder name; detected from content when absent.
        #[serde(default)]
        format: Option<String>,
    },
}

impl Listener {
    pub fn kind(&self) -> &'static str {
        match self {
            Listener::SyslogUdp { .. } => "syslog-udp",
            Listener::SyslogTcp { .. } => "syslog-tcp",
            Listener::SyslogTls { .. } => "syslog-tls",
            Listener::Netflow { .. } => "netflow",
            Listener::Tail { .. } => "tail",
        }
    }

    pub fn name(&self) -> String {
        let n = match self {
            Listener::SyslogUdp { name, .. }
            | Listener::SyslogTcp { name, .. }
            | Listener::SyslogTls { name, .. }
            | Listener::Netflow { name, .. }
            | Listener::Tail { name, .. } => name.clone(),
        };
        n.unwrap_or_else(|| self.kind().to_string())
    }
}

/// What is wrong with a config file: each problem names the key.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<String>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads and checks a config file: `Err` lists every problem found.
    pub fn load(path: &Path) -> Result<Config, Problems> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problems(vec![format!(
                "{}: cannot read: {e} (create it from taishi.example.toml)",
                path.display()
            )])
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, name: &str) -> Result<Config, Problems> {
        let mut problems = Vec::new();
        let de =
            toml::Deserializer::parse(text).map_err(|e| Problems(vec![format!("{name}: {e}")]))?;
        let mut unknown = Vec::new();
        let cfg: Result<Config, _> =
            serde_ignored::deserialize(de, |p| unknown.push(p.to_string()));
        for k in unknown {
            problems.push(format!("{name}: unknown key `{k}`"));
        }
        let cfg = match cfg {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                return Err(Problems(problems));
            }
        };
        problems.extend(cfg.validate().into_iter().map(|p| format!("{name}: {p}")));
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(Problems(problems))
        }
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.store.retention_days == 0 {
            p.push("store.retention_days: must be at least 1".into());
        }
        if self.store.max_size_gib < 0.0 {
            p.push("store.max_size_gib: must not be negative".into());
        }
        if taishi_sigma::Level::parse(&self.detection.min_level).is_none() {
            p.push(format!(
                "detection.min_level: `{}` is not a level (informational, low, medium, high, critical)",
                self.detection.min_level
            ));
        }
        if !(1..=taishi_query::MAX_DEPTH_CEILING).contains(&self.search.max_depth) {
            p.push(format!(
                "search.max_depth: must be between 1 and {} (deeper queries would not fit the stack)",
                taishi_query::MAX_DEPTH_CEILING
            ));
        }
        if self.search.max_clauses == 0 {
            p.push("search.max_clauses: must be at least 1".into());
        }
        if self.detection.max_rule_file_bytes < 1024 {
            p.push("detection.max_rule_file_bytes: must be at least 1024".into());
        }
        if self.detection.max_rule_yaml_nodes < 100 {
            p.push("detection.max_rule_yaml_nodes: must be at least 100".into());
        }
        for (i, r) in self.detection.rules.iter().enumerate() {
            if !r.exists() {
                p.push(format!(
                    "detection.rules[{i}]: {} does not exist",
                    r.display()
                ));
            }
        }
        p.extend(self.enrich.validate());
        p.extend(self.alerts.validate());
        let mut names = std::collections::HashSet::new();
        for (i, l) in self.listeners.iter().enumerate() {
            if !names.insert(l.name()) {
                p.push(format!(
                    "listeners[{i}]: name `{}` is used twice (give each listener a `name`)",
                    l.name()
                ));
            }
            match l {
                Listener::SyslogTls {
                    cert,
                    key,
                    client_ca,
                    ..
                } => {
                    for (k, f) in [
                        ("cert", Some(cert)),
                        ("key", Some(key)),
                        ("client_ca", client_ca.as_ref()),
                    ] {
                        if let Some(f) = f {
                            if !f.exists() {
                                p.push(format!(
                                    "listeners[{i}].{k}: {} does not exist",
                                    f.display()
                                ));
                            }
                        }
                    }
                }
                Listener::Tail { paths, format, .. } => {
                    if paths.is_empty() {
                        p.push(format!(
                            "listeners[{i}].paths: give at least one file or glob"
                        ));
                    }
                    if let Some(f) = format {
                        if f.parse::<taishi_event::Format>().is_err() {
                            p.push(format!("listeners[{i}].format: unknown format `{f}`"));
                        }
                    }
                }
                _ => {}
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        let c = Config::parse("", "t").unwrap();
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8600");
        assert_eq!(c.store.retention_days, 180);
    }

    #[test]
    fn every_unknown_key_is_named() {
        let text = r#"
            data_dir = "x"
            colour = "blue"
            [http]
            listen = "127.0.0.1:9000"
            lisen = "oops"
            [store]
            retention = 3
        "#;
        let e = Config::parse(text, "t.toml").unwrap_err().0;
        assert!(e.iter().any(|p| p.contains("`colour`")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("`http.lisen`")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("`store.retention`")), "{e:?}");
    }

    #[test]
    fn bad_values_are_named() {
        let text = r#"
            [detection]
            min_level = "urgent"
            [[listeners]]
            type = "tail"
            paths = []
            format = "nope"
        "#;
        let e = Config::parse(text, "t.toml").unwrap_err().0;
        assert!(e.iter().any(|p| p.contains("detection.min_level")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("listeners[0].paths")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("listeners[0].format")), "{e:?}");
    }

    #[test]
    fn wrong_types_say_where() {
        let e = Config::parse("[http]\nlisten = 5\n", "t.toml")
            .unwrap_err()
            .0;
        assert!(e[0].contains("listen"), "{e:?}");
    }
}
