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
    /// `[anomaly]`: beaconing, scans, brute force, DGA, DNS tunnels,
    /// exfiltration and look-alike domains of `brands`.
    pub anomaly: taishi_anomaly::AnomalyConfig,
    /// `[pii]`: personal information masked before storage, and the data
    /// inventory.
    pub pii: taishi_runtime::pii::PiiConfig,
    /// `[incidents]`: grouping alerts into incidents, and who reports.
    pub incidents: IncidentsSection,
    /// `[risk]`: assets and alerts matched into risk scores and warnings;
    /// scheduled KEV/EPSS pulls.
    pub risk: taishi_assess::RiskSection,
    /// `[report]`: how reports are rendered (the PDF's CJK font).
    pub report: ReportSection,
}

/// `[report]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ReportSection {
    /// The font PDF reports are set in (TrueType/OpenType, a collection
    /// allowed). Unset: the usual system places of Noto Sans/Serif CJK,
    /// WenQuanYi, Droid Sans Fallback and SimSun are tried.
    pub font: Option<std::path::PathBuf>,
}

/// `[incidents]` (issue 14).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct IncidentsSection {
    /// Group every stored alert into incidents by entity (host, user, IP).
    pub grouping: bool,
    /// An alert joins its entity's open incident when within this many
    /// hours of the incident's alerts (1–720).
    pub window_hours: u64,
    /// Entities grouped at once per organisation; past it the least
    /// recently updated stops taking alerts (100–1,000,000).
    pub max_open_groups: usize,
    /// Alerts waiting for the grouping (10–1,000,000). The grouping runs
    /// beside the pipeline: when it falls this far behind, alerts are not
    /// grouped (counted in `taishi_incident_alerts_dropped_total`) rather
    /// than slowing ingest.
    pub queue: usize,
    /// Who reports, for the reporting clock: `other` (4 h),
    /// `central_state_organ` (2 h) or `cii_operator` (1 h).
    pub reporter_type: taishi_incident::ReporterType,
    /// Per organisation id, where it differs from `reporter_type`.
    pub reporters: std::collections::BTreeMap<String, taishi_incident::ReporterType>,
    /// Notify through the alert outputs this many minutes before each
    /// reporting deadline (one notification per entry, at most 8, each
    /// 1–1440), and once more when it passes.
    pub deadline_warn_minutes: Vec<u64>,
    /// How often the reporting clock looks for notifications due, in
    /// seconds (0: never).
    pub clock_check_secs: u64,
    /// `[incidents.webhooks.NAME]`: systems an analyst may post an incident
    /// to (a ticketing system, a SOAR). `[egress]` applies.
    pub webhooks: std::collections::BTreeMap<String, IncidentWebhook>,
}

/// One system incidents can be posted to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentWebhook {
    /// `http://` or `https://`.
    pub url: String,
    /// Environment variable holding the key of `X-Taishi-Signature` (as
    /// the alert webhook signs); the key itself is never in the file.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Seconds to wait for the answer (1–120, default 10).
    #[serde(default = "IncidentWebhook::default_timeout")]
    pub timeout_secs: u64,
}

impl IncidentWebhook {
    fn default_timeout() -> u64 {
        10
    }
}

impl Default for IncidentsSection {
    fn default() -> Self {
        IncidentsSection {
            grouping: true,
            window_hours: 24,
            max_open_groups: 100_000,
            queue: 10_000,
            reporter_type: taishi_incident::ReporterType::Other,
            reporters: Default::default(),
            webhooks: Default::default(),
            deadline_warn_minutes: vec![15],
            clock_check_secs: 30,
        }
    }
}

impl IncidentsSection {
    /// The reporter type of an organisation.
    /// The reporting clock's policy: warnings at `deadline_warn_minutes`.
    pub fn clock_policy(&self) -> taishi_incident::ClockPolicy {
        taishi_incident::ClockPolicy {
            warn_before: self
                .deadline_warn_minutes
                .iter()
                .map(|m| chrono::Duration::minutes(*m as i64))
                .collect(),
            ..taishi_incident::ClockPolicy::default()
        }
    }

    pub fn reporter(&self, org: &str) -> taishi_incident::ReporterType {
        self.reporters
            .get(org)
            .copied()
            .unwrap_or(self.reporter_type)
    }

    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(1..=720).contains(&self.window_hours) {
            p.push("incidents.window_hours: must be between 1 and 720".into());
        }
        if !(100..=1_000_000).contains(&self.max_open_groups) {
            p.push("incidents.max_open_groups: must be between 100 and 1000000".into());
        }
        if !(10..=1_000_000).contains(&self.queue) {
            p.push("incidents.queue: must be between 10 and 1000000".into());
        }
        if self.reporters.len() > 10_000 {
            p.push("incidents.reporters: at most 10000 organisations".into());
        }
        if self.deadline_warn_minutes.len() > taishi_incident::clock::MAX_LEADS
            || self
                .deadline_warn_minutes
                .iter()
                .any(|m| !(1..=1440).contains(m))
        {
            p.push(format!(
                "incidents.deadline_warn_minutes: at most {} entries, each 1–1440",
                taishi_incident::clock::MAX_LEADS
            ));
        }
        if self.webhooks.len() > 100 {
            p.push("incidents.webhooks: at most 100".into());
        }
        for (name, w) in &self.webhooks {
            let ok_name = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok_name {
                p.push(format!(
                    "incidents.webhooks.{name}: a name is 1–64 letters, digits, - and _"
                ));
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                p.push(format!(
                    "incidents.webhooks.{name}.url: must start with http:// or https://"
                ));
            }
            if !(1..=120).contains(&w.timeout_secs) {
                p.push(format!(
                    "incidents.webhooks.{name}.timeout_secs: must be between 1 and 120"
                ));
            }
        }
        p
    }
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
            anomaly: Default::default(),
            pii: Default::default(),
            incidents: IncidentsSection::default(),
            risk: Default::default(),
            report: ReportSection::default(),
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
    /// Zone for timestamps that carry none (RFC 3164 syslog, many Chinese
    /// appliances), for the HTTP listener and every listener without its
    /// own `timezone`: `local` (the host's zone at start, the default),
    /// `+08:00`, `UTC`, or a zone without daylight saving (`Asia/Shanghai`).
    pub timezone: taishi_ingest::Timezone,
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
        o.default_tz = self.timezone.offset();
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
            timezone: taishi_ingest::Timezone::local(),
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

/// What kind of mistake a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The file cannot be read.
    Unreadable,
    /// Not TOML (a missing quote, a duplicate key).
    Syntax,
    /// A key Taishi does not have (a typo, often).
    UnknownKey,
    /// A value of the wrong type or out of its set (`listen = 5`).
    BadValue,
    /// A value that parses but cannot work (a zero limit, a missing file).
    Invalid,
}

impl ProblemKind {
    fn label(self) -> &'static str {
        match self {
            ProblemKind::Unreadable => "cannot read / 无法读取",
            ProblemKind::Syntax => "TOML syntax / TOML 语法错误",
            ProblemKind::UnknownKey => "unknown key / 未知的键",
            ProblemKind::BadValue => "bad value / 值无效",
            ProblemKind::Invalid => "will not work / 取值不可用",
        }
    }
}

/// One mistake in a config file, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The key (`http.listen`, `listeners[1].client_ca`); empty for a
    /// syntax error.
    pub path: String,
    /// 1-based line and column in the file, when the key is in it.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = self.line {
            write!(f, "{l}:{}: ", self.column.unwrap_or(1))?;
        }
        if !self.path.is_empty() {
            write!(f, "`{}`: ", self.path)?;
        }
        write!(f, "{}", self.kind.label())?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Everything wrong with a config file, found in one pass: a bad value
/// does not hide the keys after it.
#[derive(Debug, Default)]
pub struct Problems {
    /// The file as it was named.
    pub file: String,
    pub list: Vec<Problem>,
}

impl Problems {
    /// Each problem as printed, `FILE:LINE:COLUMN: KEY: …`.
    pub fn lines(&self) -> Vec<String> {
        self.list
            .iter()
            .map(|p| format!("{}:{p}", self.file))
            .collect()
    }
}

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in self.lines() {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Line and column of byte offsets in the file.
struct Positions<'a>(&'a str);

impl Positions<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.0.len());
        let before = &self.0.as_bytes()[..offset];
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        (before.iter().filter(|b| **b == b'\n').count() + 1, column)
    }

    fn problem(
        &self,
        kind: ProblemKind,
        path: String,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
    ) -> Problem {
        let (line, column) = match span.map(|s| self.line_col(s.start)) {
            Some((l, c)) => (Some(l), Some(c)),
            None => (None, None),
        };
        Problem {
            kind,
            path,
            line,
            column,
            message: message.into(),
        }
    }
}

/// The largest config file read.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

type Table<'i> = toml::de::DeTable<'i>;
type Value<'i> = toml::de::DeValue<'i>;

fn join(base: &str, key: &str) -> String {
    match (base.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (_, true) => base.to_string(),
        _ => format!("{base}.{key}"),
    }
}

/// Where a key path (`http.listen`, `listeners[0].paths`,
/// `detection.rules.1`) is written: the key's span, or the element's.
fn locate(table: &Table<'_>, path: &str) -> Option<std::ops::Range<usize>> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        segments.push(key.to_string());
        segments.extend(
            rest.split('[')
                .filter_map(|i| i.trim_end_matches(']').parse::<usize>().ok())
                .map(|i| i.to_string()),
        );
    }
    let mut span = None;
    let mut value: Option<&Value<'_>> = None;
    for seg in segments.iter().filter(|s| !s.is_empty()) {
        let next = match value {
            None => table
                .get_key_value(seg.as_str())
                .map(|(k, v)| (k.span(), v)),
            Some(Value::Table(t)) => t.get_key_value(seg.as_str()).map(|(k, v)| (k.span(), v)),
            Some(Value::Array(a)) => seg
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get(i))
                .map(|v| (v.span(), v)),
            Some(_) => None,
        };
        // A path past what is written (a default filled in) points at the
        // deepest key that is.
        let Some((s, v)) = next else { break };
        span = Some(s);
        value = Some(v.get_ref());
    }
    span
}

/// Removes the entry at byte `pos` (the deepest one whose key or value
/// holds it) and returns its path; `None` when no entry holds it. Tables
/// are searched whatever their own span: a `[section]`'s value spans its
/// header only, not the keys below it.
fn remove_at(table: &mut Table<'_>, pos: usize) -> Option<String> {
    for (k, v) in table.iter_mut() {
        if let Value::Table(t) = v.get_mut() {
            if let Some(inner) = remove_at(t, pos) {
                return Some(format!("{}.{inner}", k.get_ref()));
            }
        }
    }
    let key = table
        .iter()
        .find(|(k, v)| k.span().contains(&pos) || v.span().contains(&pos))
        .map(|(k, _)| k.get_ref().to_string())?;
    table.remove(key.as_str());
    Some(key)
}

fn entries(v: &Value<'_>) -> usize {
    match v {
        Value::Table(t) => t.values().map(|v| 1 + entries(v.get_ref())).sum(),
        Value::Array(a) => a.iter().map(|v| entries(v.get_ref())).sum(),
        _ => 0,
    }
}

/// Deserializes `table` with `once`; each error is reported with its key
/// and line, its key removed and the rest tried again, so one bad value
/// does not hide the others. `None` when an error cannot be tied to a key.
fn isolate<'i, T>(
    mut table: toml::Spanned<Table<'i>>,
    base: &str,
    at: &Positions<'_>,
    out: &mut Vec<Problem>,
    mut once: impl FnMut(toml::Spanned<Table<'i>>) -> Result<(T, Vec<String>), toml::de::Error>,
) -> Option<T> {
    // Each failed attempt removes an entry, so there are at most as many.
    let bound = entries(&Value::Table(table.get_ref().clone())) + 1;
    for _ in 0..bound {
        match once(table.clone()) {
            Ok((v, unknown)) => {
                for k in unknown {
                    let span = locate(table.get_ref(), &k);
                    out.push(at.problem(ProblemKind::UnknownKey, join(base, &k), span, ""));
                }
                return Some(v);
            }
            Err(e) => {
                let span = e.span();
                // An error over the whole table (a missing key) has no
                // entry to remove: report it and stop.
                let removed = span
                    .clone()
                    .filter(|s| *s != table.span())
                    .and_then(|s| remove_at(table.get_mut(), s.start));
                let kind = if e.message().starts_with("unknown field") {
                    ProblemKind::UnknownKey
                } else {
                    ProblemKind::BadValue
                };
                let path = join(base, removed.as_deref().unwrap_or(""));
                out.push(at.problem(kind, path, span, e.message()));
                removed.as_ref()?;
            }
        }
    }
    None
}

/// `[[listeners]]`: each entry read by its `type`, so that its keys are
/// checked one by one with their lines (a tagged enum would buffer them).
fn read_listeners(
    value: toml::Spanned<Value<'_>>,
    at: &Positions<'_>,
    out: &mut Vec<Problem>,
) -> Vec<Listener> {
    let kinds = Listener::KINDS.join(", ");
    let span = value.span();
    let Value::Array(items) = value.into_inner() else {
        out.push(at.problem(
            ProblemKind::BadValue,
            "listeners".into(),
            Some(span),
            "write each listener as a [[listeners]] table / 每个监听器写成一个 [[listeners]] 表",
        ));
        return Vec::new();
    };
    let mut listeners = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let base = format!("listeners[{i}]");
        let span = item.span();
        let Value::Table(mut t) = item.into_inner() else {
            out.push(at.problem(
                ProblemKind::BadValue,
                base,
                Some(span),
                "not a table / 不是表",
            ));
            continue;
        };
        let kind = t.remove("type");
        let Some(kind) = kind
            .as_ref()
            .and_then(|k| k.get_ref().as_str())
            .filter(|k| Listener::KINDS.contains(k))
        else {
            let (path, at_span, message) = match &kind {
                None => (
                    base,
                    span.clone(),
                    format!("`type` is missing: one of {kinds} / 缺少 `type`"),
                ),
                Some(k) => (
                    format!("{base}.type"),
                    k.span(),
                    format!("not a listener type: one of {kinds} / 不是监听器类型"),
                ),
            };
            out.push(at.problem(ProblemKind::BadValue, path, Some(at_span), message));
            continue;
        };
        let kind = kind.to_string();
        let name = t
            .get("name")
            .and_then(|n| n.get_ref().as_str())
            .map(str::to_string);
        let first = out.len();
        let read = isolate(toml::Spanned::new(span.clone(), t), &base, at, out, |t| {
            let whole = toml::Spanned::new(t.span(), Value::Table(t.into_inner()));
            let l = Listener::deserialize_kind(&kind, toml::de::ValueDeserializer::from(whole))?;
            Ok((l, Vec::new()))
        });
        // Several listeners of a kind are told apart by their names.
        for p in &mut out[first..] {
            p.message.push_str(&match &name {
                Some(n) => format!(" (listener `{n}`, {kind})"),
                None => format!(" ({kind})"),
            });
        }
        listeners.extend(read.flatten());
    }
    listeners
}

impl Config {
    /// Reads and checks a config file: `Err` lists every problem found.
    pub fn load(path: &Path) -> Result<Config, Problems> {
        let file = path.display().to_string();
        let unreadable = |message: String| Problems {
            file: file.clone(),
            list: vec![Problem {
                kind: ProblemKind::Unreadable,
                path: String::new(),
                line: None,
                column: None,
                message,
            }],
        };
        let mut text = String::new();
        // A config is a few KiB; reading at most this much keeps a wrong
        // path (a log, a device) from filling the memory.
        std::fs::File::open(path)
            .and_then(|f| {
                std::io::Read::read_to_string(
                    &mut std::io::Read::take(f, MAX_CONFIG_BYTES + 1),
                    &mut text,
                )
            })
            .map_err(|e| {
                unreadable(format!(
                    "{e} (create it from taishi.example.toml / 可由 taishi.example.toml 复制创建)"
                ))
            })?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(unreadable(format!(
                "larger than {} MiB: not a config file / 超过 {} MiB，不是配置文件",
                MAX_CONFIG_BYTES >> 20,
                MAX_CONFIG_BYTES >> 20
            )));
        }
        Config::parse(&text, &file)
    }

    /// The file holding the anomaly detectors' baselines.
    pub fn anomaly_state_path(&self) -> PathBuf {
        self.data_dir.join("anomaly-state.json")
    }

    /// Parses and checks `text` (named `name` in the problems). Every
    /// problem is found in one pass: syntax errors (the parser recovers),
    /// unknown keys anywhere including inside listeners, wrong values
    /// (each key is set aside and the rest read again), then what
    /// [`Config::validate`] finds, each with its line.
    pub fn parse(text: &str, name: &str) -> Result<Config, Problems> {
        let at = Positions(text);
        let mut out = Problems {
            file: name.to_string(),
            list: Vec::new(),
        };
        let (mut root, syntax) = toml::de::DeTable::parse_recoverable(text);
        for e in syntax {
            let p = at.problem(ProblemKind::Syntax, String::new(), e.span(), e.message());
            out.list.push(p);
        }
        let written = root.get_ref().clone();
        let listeners = root.get_mut().remove("listeners");
        let cfg = isolate(root, "", &at, &mut out.list, |t| {
            let mut unknown = Vec::new();
            let de = toml::de::Deserializer::from(t);
            let c: Config = serde_ignored::deserialize(de, |p| unknown.push(p.to_string()))?;
            Ok((c, unknown))
        });
        let listeners = listeners
            .map(|l| read_listeners(l, &at, &mut out.list))
            .unwrap_or_default();
        let cfg = cfg.map(|mut cfg| {
            cfg.listeners = listeners;
            for p in cfg.validate() {
                let (path, message) = p.split_once(": ").unwrap_or(("", &p));
                let first_key = path.split(',').next().unwrap_or("").trim();
                let span = locate(&written, first_key);
                let problem = at.problem(ProblemKind::Invalid, path.into(), span, message);
                out.list.push(problem);
            }
            cfg
        });
        // In file order, as an editor walks them.
        out.list
            .sort_by_key(|p| (p.line.is_none(), p.line, p.column));
        match cfg {
            Some(cfg) if out.list.is_empty() => Ok(cfg),
            _ => Err(out),
        }
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Vec<String> {
        let mut p = crate::tls::problems(self.http.tls.as_ref());
        p.extend(self.audit.problems());
        p.extend(anomaly_problems(&self.anomaly));
        p.extend(self.incidents.problems());
        p.extend(self.risk.problems());
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
        p.extend(self.pii.validate());
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

/// What is wrong in `[anomaly]`, each problem under its key's path.
fn anomaly_problems(c: &taishi_anomaly::AnomalyConfig) -> Vec<String> {
    use taishi_anomaly::AnomalyError as E;
    c.validate()
        .into_iter()
        .map(|e| match e {
            E::Config {
                section,
                field,
                value,
                reason,
            } => {
                let path = if section == "anomaly" {
                    format!("anomaly.{field}")
                } else {
                    format!("anomaly.{section}.{field}")
                };
                format!("{path}: {value} is {reason} / 超出允许范围")
            }
            E::Brand { .. } => format!("anomaly.brands: {e}"),
            E::Model { .. } => format!("anomaly.dga: {e}"),
        })
        .collect()
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

    /// Zone-less timestamps are read in the host's zone unless `[ingest]`
    /// or the listener says otherwise (issue 13, item 3).
    #[test]
    fn zone_less_times_default_to_the_hosts_zone() {
        let budget = taishi_ingest::MemoryBudget::unlimited();
        let c = Config::parse("", "t").unwrap();
        assert_eq!(
            c.ingest.listen_options(budget.clone()).default_tz,
            taishi_event::time::local_offset()
        );
        let c = Config::parse(
            "[ingest]\ntimezone = \"+08:00\"\n[[listeners]]\ntype = \"syslog-udp\"\nlisten = \"127.0.0.1:5514\"\ntimezone = \"Asia/Tokyo\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            c.ingest.listen_options(budget).default_tz.local_minus_utc(),
            8 * 3600
        );
        let shown = toml::to_string(&c.listeners[0]).unwrap();
        assert!(shown.contains("timezone = \"Asia/Tokyo\""), "{shown}");
        let e = Config::parse(
            "[[listeners]]\ntype = \"syslog-udp\"\nlisten = \"127.0.0.1:5514\"\ntimezone = \"Europe/Berlin\"\n",
            "t",
        )
        .unwrap_err()
        .lines();
        assert!(e.iter().any(|p| p.contains("Europe/Berlin")), "{e:?}");
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
        .lines();
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
        let e = Config::parse(text, "t.toml").unwrap_err().lines();
        assert!(e.iter().any(|p| p.contains("`colour`")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("`http.lisen`")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("`store.retention`")), "{e:?}");
    }

    #[test]
    fn anomaly_problems_are_named_with_their_lines() {
        let text = "[anomaly]\nevaluate_secs = 0\n[anomaly.beacon]\nalert_score = 3.0\n[anomaly.detectors]\nbeacon = false\n[[anomaly.brands]]\nname = \"x\"\ndomains = []\n";
        let e = Config::parse(text, "t.toml").unwrap_err().lines();
        assert!(
            e.iter()
                .any(|p| p.contains("t.toml:2:") && p.contains("anomaly.evaluate_secs")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|p| p.contains("t.toml:4:") && p.contains("anomaly.beacon.alert_score")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|p| p.contains("anomaly.brands") && p.contains("no domains")),
            "{e:?}"
        );
        let c = Config::parse("[anomaly.detectors]\ndga = false\n[[anomaly.brands]]\nname = \"b\"\ndomains = [\"example.cn\"]\nnames_zh = [\"示例\"]\n", "t").unwrap();
        assert!(!c.anomaly.switches.dga && c.anomaly.switches.beacon);
        assert_eq!(c.anomaly.brands[0].names_zh, ["示例"]);
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
        let e = Config::parse(text, "t.toml").unwrap_err().lines();
        assert!(e.iter().any(|p| p.contains("detection.min_level")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("listeners[0].paths")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("listeners[0].format")), "{e:?}");
    }

    /// `[pii]` mistakes are named with their lines (issue 16).
    #[test]
    fn pii_problems_are_named_with_their_lines() {
        let text = "[pii]\nmode = \"scramble\"\nfeilds = [\"message\"]\n[pii.kinds]\nshoe_size = \"hash\"\ncn_mobile = \"blur\"\n";
        let e = Config::parse(text, "t.toml").unwrap_err().lines();
        let at = |key: &str, line: &str| e.iter().any(|p| p.contains(key) && p.contains(line));
        assert!(at("pii.mode", "t.toml:2:"), "{e:?}");
        assert!(at("`pii.feilds`", "t.toml:3:"), "{e:?}");
        assert!(at("pii.kinds.shoe_size", "t.toml:5:"), "{e:?}");
        assert!(at("pii.kinds.cn_mobile", "t.toml:6:"), "{e:?}");
        let c = Config::parse("[pii]\nmode = \"hash\"\nfields = [\"*\"]\n", "t.toml").unwrap();
        assert!(c.pii.enabled && c.pii.fields == ["*"]);
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
        let e = Config::parse(text, "t.toml").unwrap_err().lines();
        assert!(e.iter().any(|p| p.contains("`clientca`")), "{e:?}");
        let ok = "[[listeners]]\ntype = \"netflow\"\nname = \"nf\"\nlisten = \"127.0.0.1:2055\"\n";
        let c = Config::parse(ok, "t.toml").unwrap();
        assert_eq!(&*c.listeners[0].name(), "nf");
    }

    #[test]
    fn a_tcp_listener_needs_a_line_format() {
        let ok = "[[listeners]]\ntype = \"tcp\"\nlisten = \"127.0.0.1:5170\"\nformat = \"zeek\"\n";
        let c = Config::parse(ok, "t.toml").unwrap();
        assert_eq!(c.listeners[0].kind(), "tcp");
        for (format, why) in [("evtx", "line by line"), ("klingon", "is unknown")] {
            let text = format!(
                "[[listeners]]\ntype = \"tcp\"\nlisten = \"127.0.0.1:5170\"\nformat = \"{format}\"\n"
            );
            let e = Config::parse(&text, "t.toml").unwrap_err().lines();
            assert!(
                e.iter().any(|p| p.contains("format") && p.contains(why)),
                "{format}: {e:?}"
            );
        }
        let missing = "[[listeners]]\ntype = \"tcp\"\nlisten = \"127.0.0.1:5170\"\n";
        let e = Config::parse(missing, "t.toml").unwrap_err().lines();
        assert!(e.iter().any(|p| p.contains("format")), "{e:?}");
    }

    #[test]
    fn zero_limits_are_refused_by_key() {
        let text = "[http]\nheader_timeout_secs = 0\n[ingest]\ninflight_mib = 0\n";
        let e = Config::parse(text, "t.toml").unwrap_err().lines();
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
            .lines();
        assert!(e[0].contains("listen"), "{e:?}");
    }

    /// Issue 13 item 6: four typos in four sections, an unknown key inside
    /// a listener, wrong values and a syntax error are all reported by one
    /// run, each with its line.
    #[test]
    fn one_pass_names_every_problem_with_its_line() {
        let text = "\
data_dir = \"d\"
colour = \"blue\"
[http]
lisen = \"127.0.0.1:9000\"
max_body_mib = \"lots\"
session_hours = 3
[store]
retenion_days = 3
refresh_ms = -1
[search]
timeout = 5
[[listeners]]
type = \"syslog-udp\"
name = \"edge\"
listen = \"127.0.0.1:5514\"
lsten = \"x\"
[[listeners]]
type = \"tail\"
paths = [\"/var/log/x\"]
format = 7
[detection]
min_level = \"urgent\"
";
        let e = Config::parse(text, "t.toml").unwrap_err();
        let want = [
            (ProblemKind::UnknownKey, "colour", 2),
            (ProblemKind::UnknownKey, "http.lisen", 4),
            (ProblemKind::BadValue, "http.max_body_mib", 5),
            (ProblemKind::UnknownKey, "store.retenion_days", 8),
            (ProblemKind::BadValue, "store.refresh_ms", 9),
            (ProblemKind::UnknownKey, "search.timeout", 11),
            (ProblemKind::UnknownKey, "listeners[0].lsten", 16),
            (ProblemKind::BadValue, "listeners[1].format", 20),
            (ProblemKind::Invalid, "detection.min_level", 22),
        ];
        for (kind, path, line) in want {
            assert!(
                e.list
                    .iter()
                    .any(|p| p.kind == kind && p.path == path && p.line == Some(line)),
                "{kind:?} {path} at line {line}: {e}"
            );
        }
        assert_eq!(e.list.len(), want.len(), "{e}");
        let listener = e
            .list
            .iter()
            .find(|p| p.path == "listeners[0].lsten")
            .unwrap();
        assert!(listener.message.contains("`edge`"), "{listener}");
        assert!(
            e.lines()[0].starts_with("t.toml:2:1: `colour`: unknown key"),
            "{e}"
        );

        // A syntax error does not hide the keys around it.
        let e = Config::parse(
            "[http]\nlisen = 1\nx = \"open\ny = 2\n[store]\nretention = 1\n",
            "t.toml",
        )
        .unwrap_err();
        assert!(
            e.list
                .iter()
                .any(|p| p.kind == ProblemKind::Syntax && p.line == Some(3)),
            "{e}"
        );
        assert!(
            e.list
                .iter()
                .any(|p| p.path == "store.retention" && p.line == Some(6)),
            "{e}"
        );
        assert!(
            e.list
                .iter()
                .any(|p| p.path == "http.lisen" && p.line == Some(2)),
            "{e}"
        );
    }

    /// `[incidents]`: its values are checked and each problem named with
    /// its line; a reporter type per organisation is read.
    #[test]
    fn incidents_section_is_checked_with_lines() {
        let text = "[incidents]\nwindow_hours = 0\nqueue = 5\nreporter_type = \"cii_operator\"\n";
        let e = Config::parse(text, "t.toml").unwrap_err();
        let find = |path: &str| e.list.iter().find(|p| p.path == path);
        assert_eq!(
            find("incidents.window_hours").and_then(|p| p.line),
            Some(2),
            "{e}"
        );
        assert!(find("incidents.queue").is_some(), "{e}");
        let ok = "[incidents]\nreporter_type = \"other\"\n[incidents.reporters]\nop-a = \"cii_operator\"\n";
        let c = Config::parse(ok, "t.toml").unwrap();
        assert_eq!(
            c.incidents.reporter("op-a"),
            taishi_incident::ReporterType::CiiOperator
        );
        assert_eq!(
            c.incidents.reporter("op-b"),
            taishi_incident::ReporterType::Other
        );
    }

    /// A listener's missing key or type is named with its line, and the
    /// listeners around it are still read.
    #[test]
    fn listener_entries_are_checked_one_by_one() {
        let text = "[[listeners]]\ntype = \"netflow\"\n[[listeners]]\ntype = \"carrier-pigeon\"\n[[listeners]]\ntype = \"syslog-tls\"\nlisten = \"127.0.0.1:6514\"\ncert = \"c.pem\"\nkey = \"k.pem\"\nclientca = \"ca.pem\"\n";
        let e = Config::parse(text, "t.toml").unwrap_err();
        let find = |path: &str| e.list.iter().find(|p| p.path == path);
        assert_eq!(find("listeners[0]").and_then(|p| p.line), Some(1), "{e}");
        assert!(
            find("listeners[0]").unwrap().message.contains("listen"),
            "{e}"
        );
        assert_eq!(
            find("listeners[1].type").and_then(|p| p.line),
            Some(4),
            "{e}"
        );
        assert_eq!(
            find("listeners[2].clientca").and_then(|p| p.line),
            Some(10),
            "{e}"
        );
    }

    proptest::proptest! {
        /// Whatever the file holds, checking it reports problems and does
        /// not panic; a problem's line is within the file.
        #[test]
        fn any_text_is_checked_without_panic(text in "(\\PC|\n|\\[\\[?listeners\\]\\]?|type = \"tail\"|= \"|\\[http\\]){0,40}") {
            if let Err(e) = Config::parse(&text, "t.toml") {
                let lines = text.lines().count().max(1) + 1;
                for p in &e.list {
                    proptest::prop_assert!(p.line.unwrap_or(1) <= lines, "{p}");
                }
            }
        }
    }
}
