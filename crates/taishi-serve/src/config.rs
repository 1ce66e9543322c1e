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
    /// Listeners besides the HTTP one (which always runs).
    pub listeners: Vec<Listener>,
    /// `[enrich]`: GeoIP/ASN databases.
    pub enrich: taishi_enrich::EnrichConfig,
    /// `[intel]`: threat-intelligence matching.
    pub intel: IntelSection,
    /// `[netflow]`: limits of the NetFlow/IPFIX listeners.
    pub netflow: NetflowSection,
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
            listeners: Vec::new(),
            enrich: taishi_enrich::EnrichConfig::default(),
            alerts: taishi_alert::AlertsConfig::default(),
            intel: IntelSection::default(),
            netflow: NetflowSection::default(),
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
    /// Events dated up to this many days before the day they arrive get
    /// their own day's partition; older ones (and any before the retention
    /// cutoff) are kept with the events received that day, flagged
    /// `taishi.time_outside`, still searchable by their time.
    pub past_days: u32,
    /// The same for days after the day they arrive.
    pub future_days: u32,
    /// Index writers open at once (one per day written to).
    pub max_open_writers: usize,
    /// Indexing memory of today's and yesterday's writers, MiB each.
    pub writer_memory_mib: usize,
    /// Indexing memory of any other writer (a late day, a backfill), MiB.
    pub cold_writer_memory_mib: usize,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            retention_days: 180,
            max_size_gib: 0.0,
            refresh_ms: 1000,
            past_days: 7,
            future_days: 1,
            max_open_writers: 10,
            writer_memory_mib: 128,
            cold_writer_memory_mib: 16,
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
}

impl Default for DetectionSection {
    fn default() -> Self {
        DetectionSection {
            rules: Vec::new(),
            pipelines: Vec::new(),
            min_level: "low".into(),
            correlation_lateness_s: 60,
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
    /// Most bytes one feed download or import may have, also after
    /// decompression (a gzip bomb stops here), MiB.
    pub max_feed_mib: u64,
    /// Most indicators one feed pull or import may bring.
    pub max_indicators_per_feed: usize,
}

impl Default for IntelSection {
    fn default() -> Self {
        IntelSection {
            enabled: true,
            retro_days: 30,
            feeds: true,
            feed_check_secs: 30,
            max_feed_mib: 512,
            max_indicators_per_feed: 2_000_000,
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

/// `[netflow]`: the template cache of every NetFlow/IPFIX listener (each
/// listener has its own cache with these limits). UDP carries no
/// authentication, so anyone who reaches the port can send templates.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct NetflowSection {
    /// Templates kept in all (the least recently refreshed go first).
    pub max_templates: usize,
    /// Templates kept per exporter address.
    pub max_templates_per_exporter: usize,
    /// A template not refreshed for this long is dropped, in seconds.
    pub template_timeout_secs: u64,
}

impl Default for NetflowSection {
    fn default() -> Self {
        NetflowSection {
            max_templates: taishi_format_netflow::DEFAULT_MAX_TEMPLATES,
            max_templates_per_exporter: taishi_format_netflow::DEFAULT_MAX_PER_EXPORTER,
            template_timeout_secs: taishi_format_netflow::DEFAULT_TEMPLATE_TIMEOUT.as_secs(),
        }
    }
}

impl NetflowSection {
    pub fn limits(&self) -> taishi_format_netflow::Limits {
        taishi_format_netflow::Limits {
            max_templates: self.max_templates,
            max_per_exporter: self.max_templates_per_exporter,
            template_timeout: std::time::Duration::from_secs(self.template_timeout_secs),
        }
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
        // Tantivy needs 15 MB per indexing thread.
        for (k, v) in [
            ("store.writer_memory_mib", self.store.writer_memory_mib),
            (
                "store.cold_writer_memory_mib",
                self.store.cold_writer_memory_mib,
            ),
        ] {
            if !(15..=4096).contains(&v) {
                p.push(format!("{k}: must be between 15 and 4096 (MiB)"));
            }
        }
        if !(2..=1000).contains(&self.store.max_open_writers) {
            p.push("store.max_open_writers: must be between 2 and 1000".into());
        }
        if self.store.past_days > 3650 || self.store.future_days > 3650 {
            p.push("store.past_days, store.future_days: at most 3650".into());
        }
        if self.netflow.max_templates == 0 || self.netflow.max_templates_per_exporter == 0 {
            p.push(
                "netflow.max_templates, netflow.max_templates_per_exporter: must be at least 1"
                    .into(),
            );
        }
        if self.netflow.template_timeout_secs == 0 {
            p.push("netflow.template_timeout_secs: must be at least 1".into());
        }
        if self.intel.max_feed_mib == 0 {
            p.push("intel.max_feed_mib: must be at least 1".into());
        }
        if self.intel.max_indicators_per_feed == 0 {
            p.push("intel.max_indicators_per_feed: must be at least 1".into());
        }
        if taishi_sigma::Level::parse(&self.detection.min_level).is_none() {
            p.push(format!(
                "detection.min_level: `{}` is not a level (informational, low, medium, high, critical)",
                self.detection.min_level
            ));
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
