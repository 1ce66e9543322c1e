//! Rough ingest rates (ignored by default):
//! `cargo test -p taishi-ingest --test throughput -- --ignored --nocapture`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_for, TestSink};
use taishi_event::Format;
use taishi_ingest::{syslog, CancellationToken, ListenOptions};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn tcp_syslog_rate() {
    const N: usize = 200_000;
    let sink = Arc::new(TestSink::open());
    let stop = CancellationToken::new();
    let l = syslog::tcp(
        "127.0.0.1:0".parse().unwrap(),
        Format::Syslog,
        ListenOptions::new("t"),
        sink.clone(),
        stop.clone(),
    )
    .await
    .unwrap();
    let mut data = Vec::new();
    for i in 0..N {
        data.extend_from_slice(format!("<86>Mar  1 10:00:00 web01 sshd[{i}]: Failed password for invalid user admin from 203.0.113.{} port 51234 ssh2\n", i % 250).as_bytes());
    }
    let started = Instant::now();
    let mut c = TcpStream::connect(l.local_addr.unwrap()).await.unwrap();
    c.write_all(&data).await.unwrap();
    c.shutdown().await.unwrap();
    assert!(wait_for(120, || sink.event_count() == N).await);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "tcp syslog: {N} messages, {:.1} MiB in {secs:.2} s: {:.0} msg/s, {:.1} MiB/s",
        data.len() as f64 / 1048576.0,
        N as f64 / secs,
        data.len() as f64 / 1048576.0 / secs
    );
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), l.task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bulk_rate() {
    use tokio::io::AsyncReadExt;
    const DOCS: usize = 20_000;
    const REQUESTS: usize = 10;
    let sink = Arc::new(TestSink::open());
    let (router, _) =
        taishi_ingest::http::router(taishi_ingest::http::HttpConfig::new("http"), sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut body = Vec::new();
    for i in 0..DOCS {
        body.extend_from_slice(b"{\"create\":{\"_index\":\"logs-app-default\"}}\n");
        body.extend_from_slice(format!("{{\"@timestamp\":\"2025-03-01T10:00:00.123Z\",\"message\":\"GET /index.html 200 {i}\",\"host\":{{\"name\":\"web01\"}},\"source\":{{\"ip\":\"203.0.113.{}\"}},\"http\":{{\"response\":{{\"status_code\":200}}}},\"log\":{{\"file\":{{\"path\":\"/var/log/nginx/access.log\"}}}}}}\n", i % 250).as_bytes());
    }
    let started = Instant::now();
    for _ in 0..REQUESTS {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let head = format!("POST /_bulk HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n", body.len());
        c.write_all(head.as_bytes()).await.unwrap();
        c.write_all(&body).await.unwrap();
        let mut out = Vec::new();
        c.read_to_end(&mut out).await.unwrap();
        assert!(out.starts_with(b"HTTP/1.1 200"));
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(sink.event_count(), DOCS * REQUESTS);
    let mib = (body.len() * REQUESTS) as f64 / 1048576.0;
    println!(
        "_bulk: {} documents, {mib:.1} MiB in {secs:.2} s: {:.0} docs/s, {:.1} MiB/s",
        DOCS * REQUESTS,
        (DOCS * REQUESTS) as f64 / secs,
        mib / secs
    );
}
