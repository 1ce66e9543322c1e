//! HTTP ingest: `/ingest` and the Elasticsearch `_bulk` API over a real
//! socket, with a hand-written HTTP/1.1 client (what shippers send).

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{wait_for, TestSink};
use serde_json::Value as J;
use taishi_ingest::http::{self, HttpConfig};
use taishi_ingest::{Batch, IngestSink, SinkError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn serve<S: IngestSink>(
    cfg: HttpConfig,
    sink: Arc<S>,
) -> (SocketAddr, Arc<taishi_ingest::ListenerMetrics>) {
    let (router, metrics) = http::router(cfg, sink);
    (spawn_server(router).await.0, metrics)
}

/// Serves `router` until the returned task is aborted.
async fn spawn_server(router: axum::Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (addr, task)
}

struct Resp {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> J {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let headers = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    let status = headers.split(' ').nth(1).unwrap().parse().unwrap();
    Resp {
        status,
        headers,
        body: out[split + 4..].to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_ndjson_and_raw_formats() {
    let sink = Arc::new(TestSink::open());
    let (addr, metrics) = serve(HttpConfig::new("http"), sink.clone()).await;
    let body = b"{\"@timestamp\":\"2025-03-01T10:00:00+08:00\",\"user\":{\"name\":\"alice\"},\"message\":\"hi\"}\n{\"broken\": \n{\"message\":\"second\"}\n";
    let r = request(
        addr,
        "POST",
        "/ingest",
        &[("Content-Type", "application/x-ndjson")],
        body,
    )
    .await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["accepted"], 2);
    assert_eq!(j["rejected"], 1);
    assert_eq!(j["rejects"][0]["line"], 2, "{j}");
    let evs = sink.events();
    assert_eq!(evs[0].get_str("user.name"), Some("alice"));
    assert_eq!(
        evs[0].timestamp.unwrap().to_rfc3339(),
        "2025-03-01T10:00:00+08:00"
    );
    assert_eq!(evs[1].get_str("message"), Some("second"));
    assert!(
        sink.rejects()[0].source.starts_with("127.0.0.1:"),
        "rejects name the peer"
    );

    let r = request(
        addr,
        "POST",
        "/ingest?format=syslog",
        &[],
        b"<13>Mar  1 10:00:00 h1 app: one\n<13>Mar  1 10:00:01 h1 app: two\n",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["accepted"], 2);
    assert_eq!(sink.events()[3].get_str("message"), Some("two"));

    let r = request(addr, "POST", "/ingest?format=nope", &[], b"x").await;
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("unknown format"));
    let m = metrics.snapshot();
    assert_eq!((m.events_acked, m.rejects_acked), (4, 1));
}

/// Without `?format=`, a body is decoded as what its content is (as
/// `taishi parse` does): Zeek, auditd and CEF posted with curl's default
/// Content-Type were refused whole as malformed JSON before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_without_format_is_recognised_by_its_content() {
    let sink = Arc::new(TestSink::open());
    let (addr, _) = serve(HttpConfig::new("http"), sink.clone()).await;
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let zeek = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
                #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n\
                #types\ttime\tstring\taddr\tport\taddr\tport\tenum\n\
                1700000000.000000\tC1\t10.0.0.1\t51000\t10.0.0.2\t443\ttcp\n";
    let auditd =
        "type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exit=0 \
                  pid=4242 uid=0 comm=\"bash\" exe=\"/usr/bin/bash\"\n\
                  type=EXECVE msg=audit(1700000000.123:42): argc=2 a0=\"ls\" a1=\"-l\"\n\
                  type=EOE msg=audit(1700000000.123:42):\n";
    let cef =
        "CEF:0|Vendor|Product|1.0|100|Port scan|5|src=10.0.0.7 dst=10.0.0.2 spt=1234 dpt=22\n";
    for (name, body, field, want) in [
        ("zeek", zeek, "source.ip", "10.0.0.1"),
        ("auditd", auditd, "process.pid", "4242"),
        ("cef", cef, "source.ip", "10.0.0.7"),
    ] {
        let before = sink.events().len();
        let r = request(addr, "POST", "/ingest", &form, body.as_bytes()).await;
        assert_eq!(
            r.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let j = r.json();
        assert_eq!(
            (j["accepted"].as_u64(), j["rejected"].as_u64()),
            (Some(1), Some(0)),
            "{name}: {j}"
        );
        let evs = sink.events();
        assert_eq!(evs.len(), before + 1, "{name}");
        let got = evs[before]
            .get(field)
            .map(|v| v.to_string().trim_matches('"').to_string());
        assert_eq!(got.as_deref(), Some(want), "{name}: {:?}", evs[before]);
    }
    // Text no probe knows is refused whole, naming `?format=`; the same
    // text declared JSON is read as JSON (its error is JSON's, per line).
    let r = request(addr, "POST", "/ingest", &form, b"just some words\n").await;
    assert_eq!(r.json()["rejected"], 1);
    assert!(
        r.json()["rejects"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("?format="),
        "{}",
        r.json()
    );
    let json = [("Content-Type", "application/x-ndjson")];
    let r = request(addr, "POST", "/ingest", &json, b"just some words\n").await;
    assert_eq!(r.json()["rejects"][0]["line"], 1, "{}", r.json());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_answers_like_elasticsearch() {
    let sink = Arc::new(TestSink::open());
    let (addr, _) = serve(HttpConfig::new("http"), sink.clone()).await;
    let body = concat!(
        "{\"index\":{\"_index\":\"logs-a\"}}\n",
        "{\"@timestamp\":\"2025-03-01T02:00:00Z\",\"message\":\"one\",\"host\":{\"name\":\"h1\"}}\n",
        "{\"create\":{\"_id\":\"doc-2\"}}\n",
        "{\"message\":\"two\"}\n",
        "{\"index\":{}}\n",
        "{\"message\": \"unterminated}\n",
        "{\"delete\":{\"_id\":\"x\"}}\n",
        "{\"create\":{\"_index\":\"logs-b\"}}\n",
        "{\"message\":\"four\"}\n",
    );
    let r = request(
        addr,
        "POST",
        "/idx/_bulk",
        &[("Content-Type", "application/x-ndjson")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.headers.contains("x-elastic-product: elasticsearch"));
    let j = r.json();
    assert!(j["took"].is_u64());
    assert_eq!(j["errors"], true);
    let items = j["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["index"]["status"], 201);
    assert_eq!(items[0]["index"]["_index"], "logs-a");
    assert_eq!(items[0]["index"]["result"], "created");
    assert!(items[0]["index"]["_id"].is_string());
    assert_eq!(items[1]["create"]["_id"], "doc-2");
    assert_eq!(items[1]["create"]["_index"], "idx");
    assert_eq!(items[2]["index"]["status"], 400);
    assert_eq!(
        items[2]["index"]["error"]["type"],
        "document_parsing_exception"
    );
    assert_eq!(items[3]["delete"]["status"], 400);
    assert_eq!(items[4]["create"]["status"], 201);

    let evs = sink.events();
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[0].get_str("_index"), Some("logs-a"));
    assert_eq!(evs[0].get_str("host.name"), Some("h1"));
    assert_eq!(evs[1].get_str("_id"), Some("doc-2"));
    assert_eq!(evs[2].get_str("_index"), Some("logs-b"));
    let rejects = sink.rejects();
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].location.line, Some(6));

    // Gzip bodies, as Beats send them.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{\"create\":{}}\n{\"message\":\"zipped\"}\n")
        .unwrap();
    let gz = gz.finish().unwrap();
    let r = request(addr, "POST", "/_bulk", &[("Content-Encoding", "gzip")], &gz).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["errors"], false);
    assert_eq!(sink.events()[3].get_str("message"), Some("zipped"));
    assert_eq!(sink.events()[3].get_str("_index"), Some("taishi"));

    // A malformed action line fails the whole request, as in Elasticsearch.
    let r = request(addr, "POST", "/_bulk", &[], b"{\"frobnicate\":{}}\n{}\n").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "illegal_argument_exception");
    assert_eq!(sink.events().len(), 4);
    assert_eq!(
        request(addr, "POST", "/_bulk", &[], b"\n").await.status,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipper_probes_are_answered() {
    let sink = Arc::new(TestSink::open());
    let (addr, _) = serve(HttpConfig::new("http"), sink).await;
    let r = request(addr, "GET", "/", &[], b"").await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["version"]["number"], "8.17.0");
    assert_eq!(j["tagline"], "You Know, for Search");
    assert_eq!(request(addr, "HEAD", "/", &[], b"").await.status, 200);
    assert_eq!(
        request(addr, "GET", "/_license", &[], b"").await.json()["license"]["status"],
        "active"
    );
    assert_eq!(request(addr, "GET", "/_xpack", &[], b"").await.status, 200);
    assert_eq!(
        request(addr, "GET", "/_cluster/health", &[], b"")
            .await
            .json()["status"],
        "green"
    );
    for (m, p) in [
        ("HEAD", "/_index_template/logs"),
        ("PUT", "/_index_template/logs"),
        ("GET", "/_ilm/policy/filebeat"),
        ("PUT", "/_ilm/policy/filebeat"),
        ("PUT", "/_template/logstash"),
        ("HEAD", "/some-index"),
        ("PUT", "/some-index"),
    ] {
        assert_eq!(request(addr, m, p, &[], b"{}").await.status, 200, "{m} {p}");
    }
    let r = request(addr, "GET", "/_search", &[], b"").await;
    assert_eq!(
        r.status,
        404,
        "{} {}",
        r.headers,
        String::from_utf8_lossy(&r.body)
    );
}

struct Token;

impl http::Authenticate for Token {
    fn authenticate(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<http::Principal>, http::Denied> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some("ApiKey secret") => Ok(Some(http::Principal::named("shipper-1"))),
            _ => Err(http::Denied::Unauthenticated(
                "missing or wrong API key".into(),
            )),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_hook_guards_every_route() {
    let sink = Arc::new(TestSink::open());
    let mut cfg = HttpConfig::new("http");
    cfg.auth = Some(Arc::new(Token));
    let (addr, _) = serve(cfg, sink.clone()).await;
    let r = request(addr, "POST", "/_bulk", &[], b"{\"index\":{}}\n{\"a\":1}\n").await;
    assert_eq!(r.status, 401);
    assert!(r.headers.contains("www-authenticate"));
    assert_eq!(request(addr, "GET", "/", &[], b"").await.status, 401);
    let r = request(
        addr,
        "POST",
        "/_bulk",
        &[("Authorization", "ApiKey secret")],
        b"{\"index\":{}}\n{\"a\":1}\n",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(wait_for(2, || sink.event_count() == 1).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_wait_for_durability_and_report_store_failure() {
    // The answer comes only after the store committed.
    let sink = Arc::new(TestSink::blocked());
    let (addr, _) = serve(HttpConfig::new("http"), sink.clone()).await;
    let pending =
        tokio::spawn(async move { request(addr, "POST", "/ingest", &[], b"{\"a\":1}\n").await });
    assert!(
        wait_for(5, || sink.waiting.load(std::sync::atomic::Ordering::SeqCst)
            == 1)
        .await
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !pending.is_finished(),
        "answered before the batch was durable"
    );
    sink.release();
    let r = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 200);

    // A store that fails: 503, so that shippers retry.
    let down = Arc::new(TestSink::failing());
    let (addr, metrics) = serve(HttpConfig::new("http"), down).await;
    let r = request(addr, "POST", "/_bulk", &[], b"{\"index\":{}}\n{\"a\":1}\n").await;
    assert_eq!(r.status, 503);
    assert!(r.headers.contains("retry-after"));
    assert_eq!(metrics.snapshot().sink_errors, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_batch_is_a_4xx_without_retry_after() {
    for (err, status, kind) in [
        (
            SinkError::Rejected("bad batch".into()),
            400,
            "illegal_argument_exception",
        ),
        (
            SinkError::TooLarge("event of 70000000 bytes".into()),
            413,
            "content_too_long_exception",
        ),
    ] {
        let sink = Arc::new(TestSink::failing_with(err.clone()));
        let (addr, metrics) = serve(HttpConfig::new("http"), sink).await;
        for (path, body) in [
            ("/ingest", b"{\"a\":1}\n".as_slice()),
            ("/_bulk", b"{\"index\":{}}\n{\"a\":1}\n".as_slice()),
        ] {
            let r = request(addr, "POST", path, &[], body).await;
            assert_eq!(r.status, status, "{path}: {err}");
            assert!(!r.headers.contains("retry-after"), "{path}: {}", r.headers);
            let j = r.json();
            assert_eq!(j["error"]["type"], kind);
            assert_eq!(j["error"]["reason"], err.to_string());
        }
        assert_eq!(metrics.snapshot().sink_errors, 2);
    }
}

/// The real store behind the listener, mapped the way the service's
/// pipeline maps it: append, then commit, errors by their kind.
struct StoreSink(Arc<taishi_store::Store>);

impl IngestSink for StoreSink {
    async fn submit(&self, batch: Batch) -> Result<(), SinkError> {
        let store = self.0.clone();
        tokio::task::spawn_blocking(move || {
            store.append_batch(&batch.events)?;
            store.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| SinkError::Unavailable(e.to_string()))?
    }
}

/// The "restart": the server and its store go away unchecked (the test
/// opens the store's folder again afterwards).
async fn restart(server: tokio::task::JoinHandle<()>, store: &Arc<taishi_store::Store>) {
    server.abort();
    let _ = server.await;
    // Its connections' tasks end on their own.
    assert!(wait_for(5, || Arc::strong_count(store) == 1).await);
}

/// Every event, whatever its time.
fn all_time() -> taishi_store::TimeRange {
    taishi_store::TimeRange::new(
        chrono::DateTime::UNIX_EPOCH,
        chrono::Utc::now() + chrono::TimeDelta::days(1),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_store_fails_half_way_is_one_503_and_absent_after_a_restart() {
    use taishi_store::{Filter, Store, StoreConfig};
    let dir = tempfile::tempdir().unwrap();
    let ndjson = |tag: &str, n: usize| -> Vec<u8> {
        let pad = "x".repeat(1000);
        (0..n)
            .flat_map(|i| {
                format!("{{\"tag\":\"{tag}\",\"i\":{i},\"pad\":\"{pad}\"}}\n").into_bytes()
            })
            .collect()
    };
    {
        let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
        let (router, metrics) =
            http::router(HttpConfig::new("http"), Arc::new(StoreSink(store.clone())));
        let (addr, server) = spawn_server(router).await;
        let r = request(addr, "POST", "/ingest", &[], &ndjson("before", 10)).await;
        assert_eq!(r.status, 200);
        // 3 MB: one piece, one batch; the store flushes its log every MiB
        // and the second of those writes fails half-way.
        store.fail_nth_wal_write(2).unwrap();
        let r = request(addr, "POST", "/ingest", &[], &ndjson("failed", 3000)).await;
        assert_eq!(r.status, 503);
        assert!(r.headers.contains("retry-after"));
        assert_eq!(r.json()["error"]["type"], "unavailable_shards_exception");
        assert_eq!(metrics.snapshot().sink_errors, 1);
        // The sender retries, and this time the store takes it.
        let r = request(addr, "POST", "/ingest", &[], &ndjson("failed", 3000)).await;
        assert_eq!(r.status, 200);
        restart(server, &store).await;
    }
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let count = |tag: &str| store.count(&Filter::term("tag", tag), all_time()).unwrap();
    assert_eq!(count("before"), 10);
    assert_eq!(count("failed"), 3000, "stored once, by the retry");
}

/// A body larger than one piece is stored piece by piece; when a later
/// piece fails, the one error says what was stored and where to resume, and
/// a sender that resends from there has every line stored exactly once.
#[tokio::test]
async fn a_body_that_fails_after_its_first_piece_says_where_to_resume() {
    use taishi_store::{Filter, Store, StoreConfig};
    let dir = tempfile::tempdir().unwrap();
    let pad = "x".repeat(1000);
    let lines: Vec<Vec<u8>> = (0..4000)
        .map(|i| format!("{{\"tag\":\"big\",\"i\":{i},\"pad\":\"{pad}\"}}\n").into_bytes())
        .collect();
    {
        let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap());
        let mut cfg = HttpConfig::new("http");
        // About 1,500 lines a piece: the 4,000 lines are three pieces.
        cfg.piece_bytes = 3 << 19;
        let (router, _) = http::router(cfg, Arc::new(StoreSink(store.clone())));
        let (addr, server) = spawn_server(router).await;
        // The log is written every MiB and at commit: the first piece is
        // two writes, and the second piece's first write fails part-way.
        store.fail_nth_wal_write(3).unwrap();
        let r = request(addr, "POST", "/ingest", &[], &lines.concat()).await;
        assert_eq!(r.status, 503);
        let j = r.json();
        let stored = j["stored"]["lines"].as_u64().unwrap() as usize;
        assert!(stored > 0 && stored < 4000, "{j}");
        assert_eq!(
            j["stored"]["events"].as_u64().unwrap() as usize,
            stored,
            "{j}"
        );
        assert_eq!(j["resume"]["line"].as_u64().unwrap() as usize, stored + 1);
        let reason = j["error"]["reason"].as_str().unwrap();
        assert!(reason.contains("send the rest again from line"), "{reason}");
        // The sender resends from where it was told.
        let r = request(addr, "POST", "/ingest", &[], &lines[stored..].concat()).await;
        assert_eq!(r.status, 200, "{}", r.json());
        restart(server, &store).await;
    }
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let all = all_time();
    assert_eq!(store.count(&Filter::term("tag", "big"), all).unwrap(), 4000);
    for i in [0, 1999, 3999] {
        let f = Filter::And(vec![
            Filter::term("tag", "big"),
            Filter::term("i", &i.to_string()),
        ]);
        assert_eq!(store.count(&f, all).unwrap(), 1, "line {i} once");
    }
}
