//! Listeners start themselves from their `[[listeners]]` entry: each
//! config builds its running listener from a context, registers its
//! metrics, and says clearly why when it cannot start. UDP listeners show
//! the kernel's drops for their own socket.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use common::{wait_for, TestSink};
use taishi_ingest::{
    BuildError, CancellationToken, ListenOptions, ListenerConfig, Registry, Running, SourceContext,
};

fn context(sink: Arc<TestSink>, state_dir: &std::path::Path) -> SourceContext<TestSink> {
    let mut limits = ListenOptions::new("");
    limits.linger = Duration::from_millis(10);
    SourceContext {
        sink,
        shutdown: CancellationToken::new(),
        limits,
        netflow: Default::default(),
        registry: Registry::new(),
        state_dir: state_dir.to_path_buf(),
    }
}

/// Entries as `taishi.toml` writes them.
fn entries(toml_text: &str) -> Vec<ListenerConfig> {
    #[derive(serde::Deserialize)]
    struct File {
        listeners: Vec<ListenerConfig>,
    }
    toml::from_str::<File>(toml_text).unwrap().listeners
}

/// Shuts the listeners down and waits for each to finish.
async fn stop(ctx: &SourceContext<TestSink>, running: impl IntoIterator<Item = Running>) {
    ctx.shutdown.cancel();
    for r in running {
        tokio::time::timeout(Duration::from_secs(5), r.task)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_entry_builds_its_listener_and_registers_its_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "<14>Mar  1 10:00:00 host app: from a file\n").unwrap();
    let text = format!(
        r#"
        [[listeners]]
        type = "syslog-udp"
        listen = "127.0.0.1:0"
        [[listeners]]
        type = "syslog-tcp"
        name = "fw"
        listen = "127.0.0.1:0"
        [[listeners]]
        type = "netflow"
        listen = "127.0.0.1:0"
        [[listeners]]
        type = "tail"
        paths = ["{}"]
        format = "syslog"
        "#,
        log.display()
    );
    let sink = Arc::new(TestSink::open());
    let ctx = context(sink.clone(), dir.path());
    let mut running = Vec::new();
    for l in entries(&text) {
        assert!(l.check().is_empty(), "{:?}", l.check());
        running.push((l.kind(), l.build(&ctx).await.unwrap()));
    }
    let names: Vec<(&str, String)> = running
        .iter()
        .map(|(k, r)| (*k, r.name.to_string()))
        .collect();
    assert_eq!(
        names,
        [
            ("syslog-udp", "syslog-udp".to_string()),
            ("syslog-tcp", "fw".to_string()),
            ("netflow", "netflow".to_string()),
            ("tail", "tail".to_string()),
        ]
    );
    let registered: Vec<String> = ctx
        .registry
        .snapshots()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(registered, ["syslog-udp", "fw", "netflow", "tail"]);
    // The tail checkpoints live under the context's state folder.
    assert!(dir.path().join("tail").join("tail").is_dir());

    // The UDP listener built this way receives, and its batch is timed.
    let udp = running[0].1.local_addr.unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .send_to(b"<14>Mar  1 10:00:00 host app: over udp", udp)
        .unwrap();
    assert!(
        wait_for(5, || sink.event_count() == 2).await,
        "{}",
        sink.event_count()
    );
    let snap = |name: &str| {
        ctx.registry
            .snapshots()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap()
    };
    assert!(wait_for(5, || snap("syslog-udp").batches == 1).await);
    let text = ctx.registry.render_prometheus();
    assert!(
        text.contains(
            "taishi_ingest_batch_duration_seconds_count{listener=\"syslog-udp\",kind=\"syslog-udp\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "taishi_ingest_batch_duration_seconds_bucket{listener=\"syslog-udp\",kind=\"syslog-udp\",le=\"+Inf\"} 1"
        ),
        "{text}"
    );

    stop(&ctx, running.into_iter().map(|(_, r)| r)).await;
}

#[tokio::test]
async fn a_taken_port_names_the_address_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let l = entries(&format!(
        "[[listeners]]\ntype = \"syslog-tcp\"\nname = \"fw\"\nlisten = \"{addr}\"\n"
    ))
    .remove(0);
    let ctx = context(Arc::new(TestSink::open()), dir.path());
    let e = l.build(&ctx).await.unwrap_err();
    match &e {
        BuildError::Bind { name, addr: a, .. } => {
            assert_eq!((&**name, *a), ("fw", addr));
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(msg.contains("change its `listen`"), "{msg}");
    assert!(msg.contains("请修改 `listen`"), "{msg}");
    assert!(ctx.registry.snapshots().is_empty());
}

#[tokio::test]
async fn tls_files_and_tail_formats_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.crt");
    let l = entries(&format!(
        "[[listeners]]\ntype = \"syslog-tls\"\nlisten = \"127.0.0.1:0\"\ncert = \"{0}\"\nkey = \"{0}\"\n",
        missing.display()
    ))
    .remove(0);
    let problems = l.check();
    assert_eq!(
        problems.iter().map(|p| p.key).collect::<Vec<_>>(),
        ["cert", "key"]
    );
    let ctx = context(Arc::new(TestSink::open()), dir.path());
    match l.build(&ctx).await.unwrap_err() {
        BuildError::TlsFile { key, path, .. } => assert_eq!((key, path), ("cert", missing)),
        other => panic!("{other:?}"),
    }

    let l =
        entries("[[listeners]]\ntype = \"tail\"\npaths = [\"/x\"]\nformat = \"evtx\"\n").remove(0);
    assert!(l.check().is_empty());
    match l.build(&ctx).await.unwrap_err() {
        BuildError::Format { format, .. } => assert_eq!(format, "evtx"),
        other => panic!("{other:?}"),
    }
}

/// The receive task cannot run while this single-threaded test sends, so
/// the small socket buffer overflows in the kernel: those drops are shown
/// with the listener that owns the socket.
#[tokio::test(flavor = "current_thread")]
async fn kernel_drops_are_the_udp_listeners_own() {
    if !cfg!(target_os = "linux") {
        eprintln!("kernel drop counters are read from Linux's /proc/net/udp; skipped");
        return;
    }
    let sink = Arc::new(TestSink::open());
    let shutdown = CancellationToken::new();
    let mut opts = ListenOptions::new("syslog-udp");
    opts.recv_buffer = Some(4096);
    let l = taishi_ingest::syslog::udp(
        "127.0.0.1:0".parse().unwrap(),
        taishi_event::Format::Syslog,
        opts,
        sink,
        shutdown.clone(),
    )
    .await
    .unwrap();
    let tcp = taishi_ingest::syslog::tcp(
        "127.0.0.1:0".parse().unwrap(),
        taishi_event::Format::Syslog,
        ListenOptions::new("syslog-tcp"),
        Arc::new(TestSink::open()),
        shutdown.clone(),
    )
    .await
    .unwrap();
    assert_eq!(l.metrics.snapshot().kernel_dropped, Some(0));
    assert_eq!(tcp.metrics.snapshot().kernel_dropped, None);

    let to: SocketAddr = l.local_addr.unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let payload = format!("<14>Mar  1 10:00:00 host app: {}", "x".repeat(1000));
    for _ in 0..500 {
        client.send_to(payload.as_bytes(), to).unwrap();
    }
    let dropped = l.metrics.snapshot().kernel_dropped.unwrap();
    assert!(dropped > 0, "the kernel kept every datagram in 4 KiB");

    let reg = Registry::new();
    reg.register(l.metrics.clone());
    reg.register(tcp.metrics.clone());
    let text = reg.render_prometheus();
    let line = text
        .lines()
        .find(|s| s.starts_with("taishi_ingest_udp_kernel_dropped_total{"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.starts_with(
        "taishi_ingest_udp_kernel_dropped_total{listener=\"syslog-udp\",kind=\"syslog-udp\"} "
    ));
    assert!(line.split(' ').nth(1).unwrap().parse::<u64>().unwrap() >= dropped);
    assert!(!text.contains("udp_kernel_dropped_total{listener=\"syslog-tcp\""));
    shutdown.cancel();
}

/// Issue 13, item 3: a server in UTC+8 sends RFC 3164 lines without a
/// zone. With `timezone = "+08:00"` on its listener the event lands at the
/// right instant and says the zone was assumed; a listener without the key
/// uses the context's zone (`[ingest] timezone` in the service).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listeners_timezone_places_zone_less_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fw.log");
    std::fs::write(&log, "<13>Mar  1 2025 10:00:00 tailed app: from a file\n").unwrap();
    let text = format!(
        r#"
        [[listeners]]
        type = "syslog-udp"
        name = "east8"
        listen = "127.0.0.1:0"
        timezone = "+08:00"
        [[listeners]]
        type = "syslog-tcp"
        name = "plain"
        listen = "127.0.0.1:0"
        [[listeners]]
        type = "tail"
        paths = ["{}"]
        format = "syslog"
        timezone = "Asia/Shanghai"
        "#,
        log.display()
    );
    let sink = Arc::new(TestSink::open());
    let ctx = context(sink.clone(), dir.path());
    let mut running = Vec::new();
    for l in entries(&text) {
        running.push(l.build(&ctx).await.unwrap());
    }
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .send_to(
            b"<13>Mar  1 2025 10:00:00 east8host app: zone-less",
            running[0].local_addr.unwrap(),
        )
        .unwrap();
    let mut tcp = std::net::TcpStream::connect(running[1].local_addr.unwrap()).unwrap();
    std::io::Write::write_all(&mut tcp, b"<13>Mar  1 2025 10:00:00 plainhost app: x\n").unwrap();
    std::io::Write::write_all(
        &mut tcp,
        b"<13>Mar  1 2025 10:00:00 +0800 givenhost app: its own zone\n",
    )
    .unwrap();
    drop(tcp);
    assert!(
        wait_for(5, || sink.event_count() == 4).await,
        "{}",
        sink.event_count()
    );
    let evs = sink.events();
    let by_host = |h: &str| {
        evs.iter()
            .find(|e| e.get_str("host.name") == Some(h))
            .unwrap_or_else(|| panic!("no event from {h}"))
    };
    let utc = |e: &taishi_event::Event| {
        e.timestamp
            .unwrap()
            .with_timezone(&chrono::Utc)
            .to_rfc3339()
    };
    let assumed = |e: &taishi_event::Event| e.get("taishi.timezone_assumed").cloned();
    for h in ["east8host", "tailed"] {
        let e = by_host(h);
        assert_eq!(utc(e), "2025-03-01T02:00:00+00:00", "{h}");
        assert_eq!(e.get_str("event.timezone"), Some("+08:00"), "{h}");
        assert_eq!(assumed(e), Some(taishi_event::Value::Bool(true)), "{h}");
    }
    let plain = by_host("plainhost");
    assert_eq!(utc(plain), "2025-03-01T10:00:00+00:00");
    assert_eq!(plain.get_str("event.timezone"), Some("+00:00"));
    let given = by_host("givenhost");
    assert_eq!(utc(given), "2025-03-01T02:00:00+00:00");
    assert_eq!(given.get_str("event.timezone"), None);
    assert_eq!(assumed(given), None);

    stop(&ctx, running).await;
}

#[test]
fn an_unknown_timezone_is_refused_with_what_to_write() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct File {
        listeners: Vec<ListenerConfig>,
    }
    let e = toml::from_str::<File>(
        "[[listeners]]\ntype = \"syslog-udp\"\nlisten = \"127.0.0.1:0\"\ntimezone = \"CST\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("`CST`"), "{e}");
    assert!(e.contains("+08:00") && e.contains("无法识别时区"), "{e}");
}
