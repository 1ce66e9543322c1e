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
    /// `[ingest]`: limits shared by every listener.
    pub ingest: IngestSection,
    /// `[search]`: the limits of one search and of searches at once.
    pub search: SearchSection,
    /// `[rejects]`: how much of the malformed input is kept.
    pub rejects: RejectsSection,
    /// `[api]`: bounds of the query API.
    pub api: ApiSection,
    /// `[auth]`: sign-in throttling, the password-hashing pool, the password
    /// policy.
    pub auth: AuthSection,
    /// `[egress]`: where intel feeds and alert outputs may connect
    /// (private targets refused by default).
    pub egress: taishi_intel::EgressPolicy,
    /// `[state]`: where the platform state lives (SQLite in the data
    /// directory, or a PostgreSQL database shared by several nodes).
    pub state: StateSection,
    /// `[audit]`: forwarding the audit trail to a collector.
    pub audit: crate::audit_forward::AuditSection,
}

/// `[state]`. The password is best kept out of the file: `password_env`
/// names the environment variable that holds it. The URL is never printed
/// with its password (`taishi config`, logs) and the API does not return it.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct StateSection {
    /// Empty (the default): SQLite at DATA_DIR/state.db.
    /// `postgres://USER@HOST:PORT/DATABASE`: a shared PostgreSQL database.
    #[serde(serialize_with = "redacted_url")]
    pub database: String,
    /// Environment variable holding the PostgreSQL password.
    pub password_env: Option<String>,
}

fn redacted_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&taishi_state::db::redact_url(url))
}

impl std::fmt::Debug for StateSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSection")
            .field("database", &taishi_state::db::redact_url(&self.database))
            .field("password_env", &self.password_env)
            .finish()
    }
}

impl StateSection {
    /// The database to open: `[state] database`, else DATA_DIR/state.db.
    pub fn target(&self, data_dir: &Path) -> anyhow::Result<taishi_state::Target> {
        if self.database.trim().is_empty() {
            return Ok(taishi_state::Target::Sqlite(data_dir.join("state.db")));
        }
        let t = taishi_state::Target::parse(self.database.trim())?;
        Ok(match &self.password_env {
            Some(var) => {
                let pw = std::env::var(var).map_err(|_| {
                    anyhow::anyhow!(
                        "state.password_env: the environment variable {var} is not set / 环境变量 {var} 未设置"
                    )
                })?;
                t.with_password(&pw)
            }
            None => t,
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AuthSection {
    /// Password hashes computed at once: each holds about 19 MiB for about
    /// 30 ms, so a flood of sign-ins queues instead of taking the memory.
    pub hash_permits: usize,
    /// Seconds a sign-in waits for a hashing permit before it is answered
    /// 429.
    pub hash_wait_secs: u64,
    /// `[auth.lockout]`: wrong passwords that lock an account or an address,
    /// and for how long.
    pub lockout: taishi_auth::ThrottleConfig,
    /// `[auth.password]`: length, character classes, history, maximum age.
    pub password: taishi_auth::PasswordPolicy,
    /// A console session unused this long ends (the idle timeout; the
    /// absolute one is `http.session_hours`). 等保 level 3 asks for both.
    pub session_idle_minutes: u64,
    /// The top organisation's name, given to it at first start.
    pub top_org_name: Option<String>,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            hash_permits: 2,
            hash_wait_secs: 10,
            lockout: taishi_auth::ThrottleConfig::default(),
            password: taishi_auth::PasswordPolicy::default(),
            session_idle_minutes: 30,
            top_org_name: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RejectsSection {
    /// Bytes of one rejected record kept (KiB); the rest is cut and marked.
    pub max_record_kib: usize,
    /// The reject folder's size (MiB): oldest days are deleted first; when
    /// today's file alone fills it, further rejects are only counted.
    pub max_mib: u64,
    /// Day files older than this are deleted.
    pub retention_days: u32,
}

impl Default for RejectsSection {
    fn default() -> Self {
        RejectsSection {
            max_record_kib: 64,
            max_mib: 1024,
            retention_days: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ApiSection {
    /// The deepest page of a list or search: `offset + limit` may not pass
    /// it (as Elasticsearch's `index.max_result_window`).
    pub max_result_window: usize,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            max_result_window: 10_000,
        }
    }
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
            auth: AuthSection::default(),
            netflow: NetflowSection::default(),
            ingest: IngestSection::default(),
            rejects: RejectsSection::default(),
            api: ApiSection::default(),
            egress: taishi_intel::EgressPolicy::default(),
            state: StateSection::default(),
            audit: Default::default(),
        }
    }
}

/// The guards Elasticsearch puts on every search (a default timeout,
/// cancellation, a request circuit breaker, a bounded search pool), so one
/// viewer's query cannot take the service's memory or every core.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SearchSection {
    /// A search (and the field list, an alert's related events) is stopped
    /// after this many seconds with a 400 that says so.
    pub timeout_secs: u64,
    /// Searches that run at once; more wait for a slot.
    pub max_concurrent: usize,
    /// How long a search waits for a slot before it is refused with 429.
    pub queue_secs: u64,
    /// Memory one search may need (its wildcard, range and CIDR clauses each
    /// hold a bitset of a day's events); a query that would need more is
    /// refused before it runs.
    pub max_query_mib: u64,
    /// Deepest nesting of parentheses and NOT/-/+ prefixes in a query (at
    /// most 256): every viewer may send one, so its shape is bounded before
    /// it is parsed any further.
    pub max_depth: usize,
    /// Most terms (field tests, words, stage items) in one query.
    pub max_clauses: usize,
    /// How often the scheduler looks for scheduled saved searches that are
    /// due, in seconds (each runs at its own interval, at least a minute;
    /// 0: scheduled searches do not run on this node).
    pub schedule_check_secs: u64,
}

impl Default for SearchSection {
    fn default() -> Self {
        SearchSection {
            timeout_secs: 30,
            max_concurrent: 4,
            queue_secs: 10,
            max_query_mib: 256,
            max_depth: taishi_query::DEFAULT_MAX_DEPTH,
            max_clauses: taishi_query::DEFAULT_MAX_CLAUSES,
            schedule_check_secs: 30,
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
    /// Largest ingest request body after decompression, in MiB.
    pub max_body_mib: usize,
    /// Largest body of an API call (JSON), in MiB.
    pub max_api_body_mib: usize,
    /// Largest upload (rule files, intel feed files), in MiB.
    pub max_upload_mib: usize,
    /// Longest single NDJSON line or bulk document, in MiB; it bounds what
    /// one ingest request holds before decoding.
    pub max_document_mib: usize,
    /// A client must send a request's headers within this many seconds of
    /// connecting or of its previous response; an idle keep-alive
    /// connection is closed after it too (slowloris).
    pub header_timeout_secs: u64,
    /// A request body that sends nothing for this many seconds is answered
    /// 408 and its connection closed.
    pub body_timeout_secs: u64,
    /// Open HTTP connections at most; at the cap the longest-idle one is
    /// closed to admit a new one.
    pub max_connections: usize,
    /// Open HTTP connections from one address at most; further ones are
    /// closed at once.
    pub max_connections_per_ip: usize,
    /// Ingest requests (`/ingest`, `_bulk`) read and stored at once; more
    /// wait up to `body_timeout_secs`, then get 429.
    pub ingest_in_flight: usize,
    /// `[http.tls]`: HTTPS from certificate files (see `crate::tls`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::TlsSection>,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 8600)),
            session_hours: 12,
            max_body_mib: 100,
            max_api_body_mib: 2,
            max_upload_mib: 64,
            max_document_mib: 16,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections: 4096,
            max_connections_per_ip: 256,
            ingest_in_flight: 64,
            tls: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct IngestSection {
    /// Bytes received and not yet stored, across every listener, in MiB
    /// (bodies, buffered stream data, queued datagrams, and their decoded
    /// events). When it is spent HTTP answers 429, TCP senders are no
    /// longer read, and datagrams are dropped and counted.
    pub inflight_mib: usize,
    /// A syslog TCP/TLS connection that sends nothing this long is closed.
    pub tcp_idle_secs: u64,
    /// Open syslog TCP/TLS connections per listener; at the cap the
    /// longest-idle one is closed to admit a new one.
    pub tcp_max_connections: usize,
    /// Open syslog TCP/TLS connections per listener from one address.
    pub tcp_max_connections_per_ip: usize,
    /// How long a syslog TLS client may take over its handshake.
    pub tls_handshake_secs: u64,
    /// `_bulk` items with an `_id` already stored within this many seconds
    /// are not stored again.
    pub bulk_dedup_window_secs: u64,
    /// …and at most this many ids are remembered (about 60 bytes each).
    pub bulk_dedup_max_ids: usize,
}

impl IngestSection {
    /// The limits every socket listener starts with (each sets its own
    /// name, and UDP listeners their receive buffer).
    pub fn listen_options(
        &self,
        budget: std::sync::Arc<taishi_ingest::MemoryBudget>,
    ) -> taishi_ingest::ListenOptions {
        let mut o = taishi_ingest::ListenOptions::new("");
        o.budget = budget;
        o.idle_timeout = std::time::Duration::from_secs(self.tcp_idle_secs);
        o.max_connections = self.tcp_max_connections;
        o.max_connections_per_ip = self.tcp_max_connections_per_ip;
        o.handshake_timeout = std::time::Duration::from_secs(self.tls_handshake_secs);
        o
    }
}

impl Default for IngestSection {
    fn default() -> Self {
        IngestSection {
            inflight_mib: 256,
            tcp_idle_secs: 300,
            tcp_max_connections: 1024,
            tcp_max_connections_per_ip: 256,
            tls_handshake_secs: 10,
            bulk_dedup_window_secs: 3600,
            bulk_dedup_max_ids: 500_000,
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

/// A listener: `type` selects the protocol. Each kind's keys, checks and
/// start-up live with the listener in `taishi-ingest`.
pub use taishi_ingest::ListenerConfig as Listener;

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
        let mut p = crate::tls::problems(self.http.tls.as_ref());
        p.extend(self.audit.problems());
        if !self.state.database.trim().is_empty() {
            if let Err(e) = taishi_state::Target::parse(self.state.database.trim()) {
                p.push(format!("state.database: {e}"));
            }
        }
        if self.store.retention_days == 0 {
            p.push("store.retention_days: must be at least 1".into());
        }
        if self.store.max_size_gib < 0.0 {
            p.push("store.max_size_gib: must not be negative".into());
        }
        for (key, v) in [
            ("http.max_body_mib", self.http.max_body_mib as u64),
            ("http.max_api_body_mib", self.http.max_api_body_mib as u64),
            ("http.max_upload_mib", self.http.max_upload_mib as u64),
            ("auth.hash_permits", self.auth.hash_permits as u64),
            ("http.max_document_mib", self.http.max_document_mib as u64),
            ("http.header_timeout_secs", self.http.header_timeout_secs),
            ("http.body_timeout_secs", self.http.body_timeout_secs),
            ("http.max_connections", self.http.max_connections as u64),
            (
                "http.max_connections_per_ip",
                self.http.max_connections_per_ip as u64,
            ),
            ("http.ingest_in_flight", self.http.ingest_in_flight as u64),
            ("ingest.inflight_mib", self.ingest.inflight_mib as u64),
            ("ingest.tcp_idle_secs", self.ingest.tcp_idle_secs),
            (
                "ingest.tcp_max_connections",
                self.ingest.tcp_max_connections as u64,
            ),
            (
                "ingest.tcp_max_connections_per_ip",
                self.ingest.tcp_max_connections_per_ip as u64,
            ),
            ("ingest.tls_handshake_secs", self.ingest.tls_handshake_secs),
            (
                "ingest.bulk_dedup_max_ids",
                self.ingest.bulk_dedup_max_ids as u64,
            ),
        ] {
            if v == 0 {
                p.push(format!("{key}: must be at least 1"));
            }
        }
        if self.ingest.inflight_mib > (1 << 20) {
            p.push("ingest.inflight_mib: at most 1048576 (1 TiB)".into());
        }
        if self.http.max_body_mib > (1 << 20) {
            p.push("http.max_body_mib: at most 1048576 (1 TiB)".into());
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
        if self.search.timeout_secs == 0 {
            p.push("search.timeout_secs: must be at least 1".into());
        }
        if self.search.max_concurrent == 0 {
            p.push("search.max_concurrent: must be at least 1".into());
        }
        if self.search.max_query_mib == 0 {
            p.push("search.max_query_mib: must be at least 1".into());
        }
        if !(1..=1024).contains(&self.rejects.max_record_kib) {
            p.push("rejects.max_record_kib: between 1 and 1024".into());
        }
        if self.rejects.max_mib == 0 {
            p.push("rejects.max_mib: must be at least 1".into());
        }
        if self.rejects.retention_days == 0 {
            p.push("rejects.retention_days: must be at least 1".into());
        }
        if !(1..=1_000_000).contains(&self.api.max_result_window) {
            p.push("api.max_result_window: between 1 and 1000000".into());
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
            for problem in l.check() {
                p.push(format!(
                    "listeners[{i}].{}: {}",
                    problem.key, problem.message
                ));
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
    fn lifecycle_limits_parse_and_are_checked() {
        let c = Config::parse("", "t").unwrap();
        assert_eq!(c.rejects.max_record_kib, 64);
        assert_eq!(c.rejects.max_mib, 1024);
        assert_eq!(c.rejects.retention_days, 30);
        assert_eq!(c.api.max_result_window, 10_000);
        assert_eq!(c.alerts.drain, std::time::Duration::from_secs(10));
        assert_eq!(c.alerts.outbox_max, 10_000);
        let c = Config::parse(
            "[alerts]\ndrain = \"2s\"\noutbox_max = 5\n[rejects]\nmax_record_kib = 8\nmax_mib = 2\nretention_days = 3\n[api]\nmax_result_window = 500\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.alerts.drain, std::time::Duration::from_secs(2));
        assert_eq!(
            (c.rejects.max_record_kib, c.api.max_result_window),
            (8, 500)
        );
        let e = Config::parse(
            "[alerts]\ndrain = \"1h\"\n[rejects]\nmax_record_kib = 0\nmax_mib = 0\nretention_days = 0\n[api]\nmax_result_window = 0\n",
            "t",
        )
        .unwrap_err()
        .0;
        for key in [
            "alerts.drain",
            "rejects.max_record_kib",
            "rejects.max_mib",
            "rejects.retention_days",
            "api.max_result_window",
        ] {
            assert!(e.iter().any(|p| p.contains(key)), "{key}: {e:?}");
        }
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
    fn unknown_listener_keys_are_named() {
        let text = r#"
            [[listeners]]
            type = "syslog-tls"
            listen = "127.0.0.1:6514"
            cert = "c.pem"
            key = "k.pem"
            clientca = "ca.pem"
        "#;
        let e = Config::parse(text, "t.toml").unwrap_err().0;
        assert!(e.iter().any(|p| p.contains("`clientca`")), "{e:?}");
        let ok = "[[listeners]]\ntype = \"netflow\"\nname = \"nf\"\nlisten = \"127.0.0.1:2055\"\n";
        let c = Config::parse(ok, "t.toml").unwrap();
        assert_eq!(&*c.listeners[0].name(), "nf");
    }

    #[test]
    fn zero_limits_are_refused_by_key() {
        let text = "[http]\nheader_timeout_secs = 0\n[ingest]\ninflight_mib = 0\n";
        let e = Config::parse(text, "t.toml").unwrap_err().0;
        assert!(
            e.iter().any(|p| p.contains("http.header_timeout_secs")),
            "{e:?}"
        );
        assert!(e.iter().any(|p| p.contains("ingest.inflight_mib")), "{e:?}");
        let c = Config::parse("", "t").unwrap();
        assert_eq!(c.ingest.inflight_mib, 256);
        assert_eq!(c.http.max_connections, 4096);
    }

    #[test]
    fn wrong_types_say_where() {
        let e = Config::parse("[http]\nlisten = 5\n", "t.toml")
            .unwrap_err()
            .0;
        assert!(e[0].contains("listen"), "{e:?}");
    }
}
