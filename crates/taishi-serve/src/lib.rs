//! `taishi serve`: one process that receives telemetry, detects as it
//! arrives, stores it, raises alerts, and serves the API and the console.
//!
//! ```text
//! listeners (taishi-ingest) ─▶ Pipeline: enrich ─▶ store (WAL+Tantivy) ─▶ detect ─▶ alerts (SQLite) ─▶ outputs
//!                                                         ▲                                  │
//!                 HTTP API /api/v1 (search, alerts, rules, users) ◀──────────────────────────┘
//! ```
//!
//! Layout of the data directory:
//! `events/` the event store, `state.db` users/alerts/rules state,
//! `alerts-journal.jsonl` alerts between their events' commit and their
//! insert, `alerts-outbox.jsonl` notifications not yet delivered,
//! `rules/` uploaded rules, `rejects/` malformed input kept aside,
//! `tail/` file-tailing checkpoints, `pii.key` the masking key (0600),
//! `pii-inventory.json` where personal information was seen (masked).

pub mod audit_forward;
pub mod auth;
pub mod config;
pub mod gate;
pub mod incidents;
pub mod reporting;
/// Threat intelligence lives in the runtime; `intel` keeps its old path here.
pub use taishi_runtime::intel;
pub mod anomaly;
mod openapi;
pub mod routes;
pub mod schedule;
pub mod searches;
pub mod tls;
/// Platform state lives in its own crate; `state` keeps its old path here.
pub use taishi_state as state;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use taishi_ingest::dedup::BulkIds;
use taishi_ingest::internal_events::{
    ConnectionClosed, ConnectionOpened, ConnectionTimedOut, Timeout,
};
use taishi_ingest::{
    CancellationToken, ConnLimits, Conns, ListenerMetrics, MemoryBudget, Registry, SourceContext,
};
use taishi_store::{Store, StoreConfig};

pub use config::Config;

use crate::state::State;
use taishi_runtime::{Pipeline, RejectLog, Rules, Sink};

/// What the handlers share.
pub struct App {
    pub config: Config,
    pub data_dir: PathBuf,
    pub state: Arc<State>,
    pub store: Arc<Store>,
    pub rules: Arc<Rules>,
    pub pipeline: Arc<Pipeline>,
    pub registry: Registry,
    pub geo: Arc<taishi_enrich::GeoIp>,
    pub outputs: Arc<taishi_alert::Outputs>,
    pub intel: Arc<intel::Intel>,
    pub listeners: Vec<ListenerInfo>,
    pub started: Instant,
    /// Every search runs through its slots and limits.
    pub searches: Arc<searches::Searches>,
    /// The ingest memory budget every listener reserves from.
    pub budget: Arc<MemoryBudget>,
    /// Recently stored `_bulk` ids (idempotent retries).
    pub bulk_ids: Arc<BulkIds>,
    /// API-token checks of the last few seconds (see `routes::TokenCache`).
    pub token_cache: routes::TokenCache,
    /// Overview pictures of the last few seconds.
    pub overview_cache: taishi_overview::OverviewCache,
    /// Password hashing, a few at a time.
    pub hasher: taishi_auth::Hasher,
    /// Wrong passwords per account and address, and their locks.
    pub throttle: taishi_auth::Throttle,
    /// Sign-ins and every state-changing call, hash-chained
    /// (`DATA_DIR/audit`, `taishi audit verify`).
    pub audit: Arc<taishi_audit::Trail<taishi_audit::FileStore>>,
    /// The organisations' overrides of shared rules and intel sources.
    pub gate: Arc<gate::OrgGate>,
    /// Every new audit record, queued for `[audit.forward]`'s collector.
    pub audit_forward: audit_forward::Forwarder,
    /// The anomaly detectors in the pipeline (`[anomaly]`), when enabled.
    pub anomaly: Option<Arc<taishi_anomaly::Engine>>,
    /// Stored alerts grouped into incidents, beside the pipeline.
    pub grouping: Arc<incidents::Grouping>,
    /// Assets, vulnerabilities, risk scores and early warnings (issue 15).
    pub risk: Arc<taishi_assess::Risk>,
    /// Discovery from received events and the outbound-transfer rule
    /// (`[risk] discovery`), when enabled.
    pub discovery: Option<Arc<taishi_assess::discover::Discovery>>,
    /// The server's time (the reporting clock; tests move it).
    pub clock: reporting::ServerClock,
    /// The PDF reports' font, found on first use.
    pub report_font: std::sync::OnceLock<Result<taishi_report::Font, taishi_report::FontError>>,
}

/// The OpenAPI 3.1 document of the HTTP API (what `GET
/// /api/v1/openapi.json` answers), generated from the route table and
/// built without a running server, so the console's TypeScript types are
/// generated from it (`taishi openapi`, `scripts/gen-types`).
pub fn openapi_document() -> serde_json::Value {
    openapi::document(&routes::table())
}

pub use taishi_ingest::ListenerInfo;

impl App {
    /// What the situational picture is drawn from.
    pub fn picture_sources<'a>(&'a self, scope: &'a state::Scope) -> taishi_overview::Sources<'a> {
        taishi_overview::Sources {
            store: &self.store,
            state: &self.state,
            geo: &self.geo,
            scope,
        }
    }

    /// Each listener's health (overview, `/health`).
    pub fn listener_status(&self) -> Vec<taishi_ingest::ListenerStatus> {
        self.registry.status(&self.listeners)
    }

    /// Re-reads the rule files (configured paths and uploads) and swaps in
    /// a new engine; on error the running rules stay.
    pub fn reload_rules(&self) -> anyhow::Result<(usize, usize)> {
        let disabled: HashSet<String> = self
            .state
            .rule_switches()?
            .into_iter()
            .filter(|(_, on)| !on)
            .map(|(id, _)| id)
            .collect();
        let d = self.rules.reload(&disabled)?;
        Ok((d.infos.len(), d.rejected.len()))
    }
}

/// An administrator made at first start.
#[derive(Debug, Clone)]
pub struct FirstAccount {
    pub username: String,
    pub role: taishi_auth::BuiltinRole,
    pub password: String,
}

/// The administrators a new Taishi starts with: one per duty, so that no
/// account ever holds two of them.
const FIRST_ACCOUNTS: &[taishi_auth::BuiltinRole] = &[
    taishi_auth::BuiltinRole::SysAdmin,
    taishi_auth::BuiltinRole::SecAdmin,
    taishi_auth::BuiltinRole::Auditor,
];

/// A running service.
pub struct Server {
    pub http_addr: SocketAddr,
    pub listeners: Vec<ListenerInfo>,
    /// Set on the first start only: the three administrators (三权分立)
    /// and their one-time passwords.
    pub first_accounts: Vec<FirstAccount>,
    pub app: Arc<App>,
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Stops within `alerts.drain` (plus the final checkpoint): the
    /// listeners stop accepting and submit what they hold, batches in
    /// process finish, the alert outputs deliver what they can and keep the
    /// rest on disk for the next start; then the store is checkpointed.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        // Searches first: a long one would otherwise hold the HTTP server's
        // graceful shutdown until it finished.
        self.app.searches.stop_all();
        let deadline = tokio::time::Instant::now() + self.app.config.alerts.drain;
        self.cancel.cancel();
        for t in self.tasks {
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                tracing::warn!("a listener did not stop within the drain deadline (alerts.drain)");
            }
        }
        if self.app.pipeline.drain(deadline).await {
            // No batch is left: the correlations' open windows are decided
            // now, their hits stored before the outputs stop.
            let p = self.app.pipeline.clone();
            tokio::task::spawn_blocking(move || p.finish()).await?;
            anomaly::save(&self.app).await;
            save_discovery(&self.app).await;
        } else {
            tracing::warn!("ingest batches still in process at the drain deadline (alerts.drain)");
        }
        self.app.outputs.shutdown(deadline).await;
        let store = self.app.store.clone();
        tokio::task::spawn_blocking(move || store.checkpoint())
            .await?
            .context("final checkpoint")?;
        Ok(())
    }
}

/// Starts every part of the service; returns once all listeners are bound.
/// The console's address for the links in notifications when
/// `alerts.console_url` is not set: the bound HTTP address, unless it is
/// 0.0.0.0 or [::], which no receiver can open.
pub fn console_url(http: SocketAddr, https: bool) -> Option<String> {
    if http.ip().is_unspecified() {
        return None;
    }
    let scheme = if https { "https" } else { "http" };
    Some(format!("{scheme}://{http}"))
}

pub async fn start(config: Config) -> anyhow::Result<Server> {
    // HTTPS material is read before anything is opened: a wrong path stops
    // the start with the file named.
    let tls = config.http.tls.as_ref().map(tls::acceptor).transpose()?;
    let data_dir = config.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;

    let target = config.state.target(&data_dir)?;
    let described = target.describe();
    let state = Arc::new(State::open_target(target).with_context(|| {
        format!(
            "state database {described} ([state] database; `taishi state status` shows its schema)"
        )
    })?);
    if let Some(name) = &config.auth.top_org_name {
        state.rename_org(state::ROOT_ORG, name)?;
    }
    let mut first_accounts = Vec::new();
    if state.user_count()? == 0 {
        for role in FIRST_ACCOUNTS {
            let pw = auth::one_time_password();
            // Generated, 20 characters of 55: no policy to apply.
            let hash = taishi_auth::hash_password(&pw)?;
            state.create_user(role.id(), state::ROOT_ORG, &[role.id().to_string()], &hash)?;
            // Printed once in the log: its holder chooses its own at the
            // first sign-in (the server answers nothing else before).
            state.set_must_change(role.id(), true)?;
            first_accounts.push(FirstAccount {
                username: role.id().to_string(),
                role: *role,
                password: pw,
            });
        }
    }
    // An organisation a listener names exists from its first start on
    // (under the top; rename it in the console): the config file is
    // read before anyone can sign in to create it.
    for l in &config.listeners {
        for org in l.binding().orgs() {
            if state.org(org).is_err() {
                state
                    .create_org(org, state::ROOT_ORG, org)
                    .with_context(|| format!("listener `{}`: organisation `{org}`", l.name()))?;
                tracing::info!(listener = %l.name(), org, "organisation created for a listener");
            }
        }
    }

    let audit = {
        let dir = taishi_audit::audit_dir(&data_dir);
        Arc::new(
            tokio::task::spawn_blocking(move || {
                taishi_audit::Trail::open_dir(
                    &dir,
                    taishi_audit::FileStoreOptions::default(),
                    taishi_audit::TrailOptions::default(),
                )
            })
            .await?
            .context("audit trail (DATA_DIR/audit; `taishi audit verify` checks it)")?,
        )
    };

    let store_cfg = StoreConfig {
        retention_days: config.store.retention_days,
        past_days: config.store.past_days,
        future_days: config.store.future_days,
        max_open_writers: config.store.max_open_writers,
        writer_memory_bytes: config.store.writer_memory_mib << 20,
        cold_writer_memory_bytes: config.store.cold_writer_memory_mib << 20,
        max_bytes: (config.store.max_size_gib > 0.0)
            .then_some((config.store.max_size_gib * (1u64 << 30) as f64) as u64),
        checkpoint_interval: Some(Duration::from_millis(config.store.refresh_ms.max(100))),
        ..StoreConfig::default()
    };
    let events_dir = data_dir.join("events");
    let store = tokio::task::spawn_blocking(move || Store::open(&events_dir, store_cfg))
        .await?
        .context("event store (is another `taishi serve` using this data directory?)")?;
    let rec = store.recovery();
    if rec.replayed > 0 || rec.wal.torn_bytes > 0 {
        tracing::info!(
            replayed = rec.replayed,
            torn_bytes = rec.wal.torn_bytes,
            "store recovered after an unclean stop"
        );
    }
    let store = Arc::new(store);

    let disabled: HashSet<String> = state
        .rule_switches()?
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(id, _)| id)
        .collect();
    let min_level =
        taishi_sigma::Level::parse(&config.detection.min_level).context("detection.min_level")?;
    let rules = {
        let rc = taishi_runtime::RulesConfig {
            configured: config.detection.rules.clone(),
            uploaded: data_dir.join("rules"),
            options: taishi_runtime::DetectorOptions {
                pipelines: config.detection.pipelines.clone(),
                min_level,
                correlation: taishi_correlation::CorrelatorOptions {
                    max_lateness: Some(Duration::from_secs(
                        config.detection.correlation_lateness_s,
                    )),
                    ..Default::default()
                },
                timing: true,
                limits: config.detection.load_limits(),
            },
        };
        tokio::task::spawn_blocking(move || Rules::new(rc, &disabled)).await??
    };
    let rules = Arc::new(rules);

    let geo = {
        let c = config.enrich.clone();
        tokio::task::spawn_blocking(move || taishi_enrich::GeoIp::open(&c))
            .await?
            .context("enrich: GeoIP databases")?
    };
    let geo = Arc::new(geo);
    let rejects = RejectLog::new(
        data_dir.join("rejects"),
        taishi_runtime::RejectLimits {
            max_record: config.rejects.max_record_kib << 10,
            max_total: config.rejects.max_mib << 20,
            retention_days: config.rejects.retention_days,
        },
    )?;
    let intel = {
        let (dir, days) = (data_dir.join("intel"), config.intel.retro_days);
        let limits = taishi_intel::Limits {
            // Built once per start; leaked so `Limits` stays `Copy`.
            egress: Box::leak(Box::new(config.egress.clone())),
            max_bytes: config.intel.max_feed_mib.saturating_mul(1 << 20),
            max_indicators: config.intel.max_indicators_per_feed,
        };
        Arc::new(
            tokio::task::spawn_blocking(move || intel::Intel::open(dir, days, limits))
                .await?
                .context("threat intelligence")?,
        )
    };
    // Bound before the outputs start: with `listen = "…:0"` the console's
    // address (the link in each notification) is known only once bound.
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("http.listen {}: cannot listen", config.http.listen))?;
    let http_addr = listener.local_addr()?;
    let saved = state.setting(routes::settings::OUTPUTS_SETTING)?;
    let outputs = Arc::new(
        taishi_alert::Outputs::start(
            &taishi_alert::AlertsConfig {
                egress: config.egress.clone(),
                console_url: config
                    .alerts
                    .console_url
                    .clone()
                    .or_else(|| console_url(http_addr, tls.is_some())),
                ..config.alerts.clone()
            },
            saved.as_deref(),
            &data_dir,
        )
        .map_err(|p| anyhow::anyhow!("alerts: {p}"))?,
    );
    let org_gate = Arc::new(gate::OrgGate::load(&state)?);
    let tenancy = config
        .listeners
        .iter()
        .fold(taishi_ingest::Tenancy::new(state::ROOT_ORG), |t, l| {
            t.listener(&l.name(), &l.binding())
        });
    let grouping = {
        let (s, c) = (state.clone(), config.incidents.clone());
        Arc::new(
            tokio::task::spawn_blocking(move || incidents::Grouping::start(s, &c))
                .await?
                .context("incidents: grouping")?,
        )
    };
    let risk = {
        let (s, o, c) = (state.clone(), outputs.clone(), config.risk.clone());
        tokio::task::spawn_blocking(move || taishi_assess::Risk::start(s, o, &c))
            .await?
            .context("risk: register")?
    };
    let mut builder = Pipeline::builder(store.clone(), rules.clone(), state.clone(), rejects)
        .max_in_flight(4)
        .tenancy(tenancy)
        .gate(org_gate.clone())
        .hook(outputs.clone())
        .hook(grouping.clone())
        .hook(Arc::new(taishi_assess::RiskHook(risk.clone())));
    if geo.is_enabled() {
        let g = geo.clone();
        builder = builder.enrich(Box::new(move |ev| g.enrich(ev)));
    }
    if config.pii.enabled {
        let (c, dir) = (config.pii.clone(), data_dir.clone());
        let stage =
            tokio::task::spawn_blocking(move || taishi_runtime::pii::PiiStage::open(&c, &dir))
                .await?
                .context("[pii]: personal-information masking")?;
        builder = builder.pii(Arc::new(stage));
    }
    if config.intel.enabled {
        let i = intel.clone();
        builder = builder.intel(Arc::new(move || i.matcher()));
    }
    let anomaly = anomaly::open(&config).await?;
    if let Some(e) = &anomaly {
        builder = builder.stream(Arc::new(taishi_runtime::anomaly::Anomaly(e.clone())));
    }
    let discovery = config.risk.discovery.then(|| {
        let path = data_dir.join(DISCOVERY_STATE);
        Arc::new(taishi_assess::discover::Discovery::open(
            risk.clone(),
            &config.risk,
            &path,
        ))
    });
    if let Some(d) = &discovery {
        builder = builder.stream(d.clone());
    }
    // Alerts a killed run journaled but never stored are stored (and sent
    // to the outputs) here, before any listener takes new events.
    let pipeline = {
        let dir = data_dir.clone();
        Arc::new(tokio::task::spawn_blocking(move || builder.build(&dir)).await??)
    };
    let sink = Arc::new(Sink(pipeline.clone()));
    let cancel = CancellationToken::new();
    let registry = Registry::new();
    let budget = MemoryBudget::new(config.ingest.inflight_mib << 20);
    registry.set_budget(budget.clone());
    let bulk_ids = {
        let path = data_dir.join("bulk-ids");
        let (window, max) = (
            config.ingest.bulk_dedup_window_secs,
            config.ingest.bulk_dedup_max_ids,
        );
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        Arc::new(
            tokio::task::spawn_blocking(move || BulkIds::open(&path, window, max, now))
                .await?
                .context("bulk id window")?,
        )
    };
    let mut tasks = Vec::new();
    let mut infos = Vec::new();

    // Every configured listener starts itself from its own config; what
    // they all share comes in the context.
    let ctx = SourceContext {
        sink: sink.clone(),
        shutdown: cancel.clone(),
        limits: config.ingest.listen_options(budget.clone()),
        netflow: config.netflow.limits(),
        registry: registry.clone(),
        state_dir: data_dir.clone(),
    };
    for l in &config.listeners {
        let running = l.build(&ctx).await?;
        infos.push(ListenerInfo {
            name: running.name.to_string(),
            kind: l.kind().into(),
            address: running
                .local_addr
                .map(|a| a.to_string())
                .unwrap_or_else(|| "files".into()),
        });
        tasks.push(running.task);
    }

    infos.insert(
        0,
        ListenerInfo {
            name: "http".into(),
            kind: "http".into(),
            address: http_addr.to_string(),
        },
    );

    let audit_forward = match &config.audit.forward {
        Some(f) => {
            let (fw, task) = audit_forward::Forwarder::start(f, cancel.clone())?;
            tasks.push(task);
            fw
        }
        None => audit_forward::Forwarder::default(),
    };
    let app = Arc::new(App {
        config: config.clone(),
        data_dir: data_dir.clone(),
        state,
        store: store.clone(),
        rules,
        pipeline,
        registry,
        geo,
        outputs,
        intel,
        listeners: infos.clone(),
        started: Instant::now(),
        searches: Arc::new(searches::Searches::new(config.search.clone())),
        budget,
        bulk_ids,
        // Bounded: a flood of made-up tokens evicts old entries instead of
        // growing the map; short-lived, since a cached answer outlives
        // nothing the database says for longer than this.
        token_cache: routes::TokenCache::new(1024, Duration::from_secs(10)),
        overview_cache: taishi_overview::OverviewCache::default(),
        hasher: taishi_auth::Hasher::new(
            config.auth.hash_permits,
            Duration::from_secs(config.auth.hash_wait_secs),
        )?,
        throttle: taishi_auth::Throttle::new(config.auth.lockout),
        audit,
        gate: org_gate,
        audit_forward,
        anomaly: anomaly.clone(),
        grouping,
        risk,
        discovery: discovery.clone(),
        clock: reporting::ServerClock::default(),
        report_font: std::sync::OnceLock::new(),
    });
    let (router, http_metrics) = routes::router(app.clone(), sink);
    let router = match tls {
        Some(_) => router.layer(axum::middleware::map_response(tls::harden)),
        None => router,
    };
    tasks.push(tokio::spawn(serve_http(
        listener,
        router,
        http_metrics,
        config.http.clone(),
        tls,
        cancel.clone(),
    )));

    if let Some(e) = anomaly {
        tasks.push(anomaly::spawn(app.clone(), e, cancel.clone()));
    }
    if config.incidents.clock_check_secs > 0 {
        tasks.push(reporting::spawn(
            app.clone(),
            cancel.clone(),
            Duration::from_secs(config.incidents.clock_check_secs),
        ));
    }
    if config.search.schedule_check_secs > 0 {
        tasks.push(schedule::spawn(
            app.clone(),
            cancel.clone(),
            Duration::from_secs(config.search.schedule_check_secs),
        ));
    }
    tasks.push(gate::spawn_hit_flush(
        app.clone(),
        cancel.clone(),
        Duration::from_secs(10),
    ));
    if config.risk.overdue_check_minutes > 0 {
        // Findings past their remediation deadline, and accepted risks past
        // their expiry, warn (once each).
        let (a, c) = (app.clone(), cancel.clone());
        let every = Duration::from_secs(config.risk.overdue_check_minutes * 60);
        tasks.push(tokio::spawn(async move {
            loop {
                let b = a.clone();
                match tokio::task::spawn_blocking(move || b.risk.check_overdue(chrono::Utc::now()))
                    .await
                {
                    Ok(Ok(r)) if r.raised > 0 => {
                        tracing::info!(raised = r.raised, "overdue remediation warned")
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "overdue remediation check failed"),
                    _ => {}
                }
                tokio::select! {
                    _ = c.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        }));
    }
    if config.risk.pulls() {
        // KEV and EPSS pulled at start and every `interval_hours` after.
        let (a, c) = (app.clone(), cancel.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let b = a.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    b.risk.pull_feeds(&b.config.risk, &b.config.egress)
                })
                .await;
                tokio::select! {
                    _ = c.cancelled() => return,
                    _ = tokio::time::sleep(a.config.risk.pull_every()) => {}
                }
            }
        }));
    }
    if discovery.is_some() {
        // Unknown-asset candidates saved every minute even when no event
        // comes to save them (batches save them too).
        let (a, c) = (app.clone(), cancel.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = c.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                }
                save_discovery(&a).await;
            }
        }));
    }
    if config.intel.feeds {
        tasks.push(spawn_feed_scheduler(
            app.clone(),
            cancel.clone(),
            Duration::from_secs(config.intel.feed_check_secs.max(1)),
        ));
    }

    // The audit trail signs a checkpoint when its interval has passed
    // (`tick`), and once more at shutdown; its retention runs daily.
    let (trail, c) = (app.audit.clone(), cancel.clone());
    tasks.push(tokio::spawn(async move {
        let mut since_retention = Duration::MAX;
        loop {
            let t = trail.clone();
            let retain = since_retention >= Duration::from_secs(86_400);
            let done = tokio::task::spawn_blocking(move || {
                if retain {
                    if let Err(e) = t.store().apply_retention(chrono::Utc::now().fixed_offset()) {
                        tracing::warn!(error = %e, "audit retention failed");
                    }
                }
                t.tick()
            })
            .await;
            if retain {
                since_retention = Duration::ZERO;
            }
            if let Ok(Err(e)) = done {
                tracing::error!(error = %e, "audit checkpoint not written");
            }
            tokio::select! {
                _ = c.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(60)) => {
                    since_retention = since_retention.saturating_add(Duration::from_secs(60));
                }
            }
        }
        let t = trail.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || t.checkpoint_now()).await {
            tracing::error!(error = %e, "audit checkpoint at stop not written");
        }
    }));

    // Retention: once at start, then hourly.
    let (s, c) = (store.clone(), cancel.clone());
    tasks.push(tokio::spawn(async move {
        loop {
            let s2 = s.clone();
            match tokio::task::spawn_blocking(move || s2.apply_retention(chrono::Utc::now())).await
            {
                Ok(Ok(r)) if !r.dropped.is_empty() => {
                    tracing::info!(
                        partitions = r.dropped.len(),
                        bytes = r.bytes_freed,
                        "retention"
                    )
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "retention failed"),
                _ => {}
            }
            tokio::select! {
                _ = c.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            }
        }
    }));

    Ok(Server {
        http_addr,
        listeners: infos,
        first_accounts,
        app,
        cancel,
        tasks,
    })
}

/// What a connection over the HTTP cap is told before it is closed.
fn http_full() -> Vec<u8> {
    let body = r#"{"error":"too many connections from this address, or every connection is busy (http.max_connections_per_ip, http.max_connections); retry later"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The HTTP server: one hyper HTTP/1 connection per accepted socket, with
/// a header read timeout (which also closes idle keep-alive connections),
/// a connection cap that evicts the longest-idle connection rather than
/// locking newcomers out, and a per-address cap.
async fn serve_http(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    metrics: Arc<ListenerMetrics>,
    cfg: config::HttpSection,
    tls: Option<tokio_rustls::TlsAcceptor>,
    cancel: CancellationToken,
) {
    use hyper_util::rt::TokioTimer;

    let conns = Conns::new(
        ConnLimits {
            max: cfg.max_connections,
            per_ip: cfg.max_connections_per_ip,
        },
        metrics.clone(),
    );
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(cfg.header_timeout_secs.max(1)))
        .keep_alive(true);
    let full = http_full();
    let handshake = cfg.tls.as_ref().map(|t| t.handshake_timeout());
    let tls = tls.zip(handshake);
    let mut conn_tasks = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off.
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = cancel.cancelled() => break,
        };
        let guard = match conns.admit(peer.ip()) {
            Ok(g) => g,
            Err(_) => {
                // Counted and logged by `admit`. Best effort: a client that reads gets a reason; one that
                // does not is closed all the same.
                let _ = stream.try_write(&full);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        while conn_tasks.try_join_next().is_some() {}
        let (router, metrics, cancel, builder, tls) = (
            router.clone(),
            metrics.clone(),
            cancel.clone(),
            builder.clone(),
            tls.clone(),
        );
        conn_tasks.spawn(async move {
            metrics.emit(ConnectionOpened);
            let conn = Conn {
                peer,
                guard: &guard,
                router,
                metrics: &metrics,
                cancel: &cancel,
                builder: &builder,
            };
            match tls {
                None => conn.serve(stream).await,
                Some((acceptor, timeout)) => {
                    if let Some(s) = tls::handshake(&acceptor, stream, timeout, &conn).await {
                        conn.serve(s).await
                    }
                }
            }
            drop(guard);
            metrics.emit(ConnectionClosed);
        });
    }
    // Requests in progress may finish; long-lived ones (the live stream)
    // are cut after a grace period.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while conn_tasks.join_next().await.is_some() {}
    })
    .await;
    conn_tasks.abort_all();
}

/// One accepted connection of the HTTP server and what serving it needs.
pub(crate) struct Conn<'a> {
    pub(crate) peer: SocketAddr,
    pub(crate) guard: &'a taishi_ingest::ConnGuard,
    router: axum::Router,
    pub(crate) metrics: &'a ListenerMetrics,
    pub(crate) cancel: &'a CancellationToken,
    builder: &'a hyper::server::conn::http1::Builder,
}

impl Conn<'_> {
    /// Serves HTTP/1 on `io` (plain TCP or TLS) until the client leaves, the
    /// header timeout passes, the connection is evicted, or the server stops.
    async fn serve<I>(self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (peer, router) = (self.peer, self.router);
        let activity = self.guard.activity.clone();
        let svc =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                activity.begin();
                let mut r = router.clone();
                let fut = tower_service::Service::call(&mut r, req);
                let activity = activity.clone();
                async move {
                    let resp = fut.await;
                    activity.end();
                    resp
                }
            });
        let conn = self
            .builder
            .serve_connection(hyper_util::rt::TokioIo::new(io), svc);
        tokio::pin!(conn);
        let mut closing = false;
        loop {
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        if e.is_timeout() {
                            self.metrics.emit(ConnectionTimedOut { timeout: Timeout::Header });
                        }
                        tracing::debug!(%peer, error = %e, "HTTP connection ended");
                    }
                    break;
                }
                _ = self.guard.evicted.cancelled(), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                _ = self.cancel.cancelled(), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// Looks for the new indicators of an import or feed pull in the stored
/// window, in the background; what it finds is raised as retrospective
/// alerts through the pipeline (stored, then sent to the outputs).
pub(crate) fn spawn_retro_hunt(app: &Arc<App>, report: taishi_intel::ImportReport) {
    if report.new_indicators.is_empty() {
        return;
    }
    let app = app.clone();
    std::thread::spawn(move || match app.intel.retro_hunt(&app.store, &report) {
        Ok(alerts) => {
            tracing::info!(source = %report.source, alerts = alerts.len(), "retro-hunt done");
            app.pipeline.raise(alerts);
        }
        Err(e) => tracing::warn!(error = %e, "retro-hunt failed"),
    });
}

/// Pulls the feeds that are due, one after another, until cancelled.
fn spawn_feed_scheduler(
    app: Arc<App>,
    cancel: CancellationToken,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let a = app.clone();
            // A plain thread, not spawn_blocking: the runtime waits for its
            // blocking tasks when it is dropped, and a feed server that
            // answers slowly would then hold up the shutdown.
            let (done, round) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                // Indicators another process imported are matched from the
                // next round on.
                a.intel.refresh_if_changed();
                for name in a.intel.due_feeds(chrono::Utc::now()) {
                    match a.intel.pull_feed(&name) {
                        Ok(report) => {
                            tracing::info!(feed = %name, added = report.added, updated = report.updated,
                                removed = report.removed, rejected = report.rejected.len(), "intel feed pulled");
                            spawn_retro_hunt(&a, report);
                        }
                        Err(e) => {
                            tracing::warn!(feed = %name, error = %e, "intel feed pull failed")
                        }
                    }
                }
                let _ = done.send(());
            });
            // A slow pull is not waited for at shutdown: its HTTP client
            // has its own timeouts and the process exit ends it.
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = round => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    })
}

/// Reads the config file (or none) and applies `--data`.
pub fn load_config(
    path: Option<&std::path::Path>,
    data: Option<PathBuf>,
) -> anyhow::Result<Config> {
    let mut cfg = match path {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(problems) => bail!("the configuration has problems:\n{problems}Run `taishi config check {}` after fixing them.", p.display()),
        },
        None => Config::default(),
    };
    if let Some(d) = data {
        cfg.data_dir = d;
    }
    Ok(cfg)
}

/// Where discovery keeps its unknown-asset candidates, under DATA_DIR.
const DISCOVERY_STATE: &str = "discovery-state.json";

/// Saves the unknown-asset candidates (logged, never fatal).
async fn save_discovery(app: &Arc<App>) {
    let Some(d) = app.discovery.clone() else {
        return;
    };
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || d.save()).await {
        tracing::warn!(error = %e, "unknown-asset candidates not saved");
    }
}

#[cfg(test)]
mod console_url_tests {
    use super::console_url;

    #[test]
    fn derived_from_the_bound_address_unless_unspecified() {
        let a = |s: &str| s.parse().unwrap();
        assert_eq!(
            console_url(a("127.0.0.1:8600"), false).as_deref(),
            Some("http://127.0.0.1:8600")
        );
        assert_eq!(
            console_url(a("[fd00::5]:443"), true).as_deref(),
            Some("https://[fd00::5]:443")
        );
        assert_eq!(console_url(a("0.0.0.0:8600"), false), None);
        assert_eq!(console_url(a("[::]:8600"), true), None);
    }
}
