//! TAXII 2.1 against OASIS's reference server, medallion, started here on
//! 127.0.0.1 (installed by scripts/setup.d/taxii.sh). SKIPs when medallion
//! is absent, unless TAISHI_REQUIRE_TEST_DATA is set.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use taishi_event::Event;
use taishi_intel::taxii::{Auth, Http, TaxiiClient};
use taishi_intel::{Feed, FeedKind, Feeds, IndicatorStore};

const COLLECTION: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn medallion_available() -> bool {
    Command::new("python3")
        .args(["-c", "import medallion"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The test servers are on 127.0.0.1: the egress policy must allow it.
static LOCAL: taishi_intel::EgressPolicy = taishi_intel::EgressPolicy {
    allow_private: true,
    allow: Vec::new(),
};

fn local(c: TaxiiClient) -> TaxiiClient {
    c.with_http(Http::with_egress(Duration::from_secs(120), &LOCAL))
}

fn start(dir: &std::path::Path) -> Option<(Server, String)> {
    if !medallion_available() {
        if std::env::var_os("TAISHI_REQUIRE_TEST_DATA").is_some() {
            panic!("medallion is not installed (scripts/setup.d/taxii.sh installs it)");
        }
        eprintln!("SKIP: medallion (TAXII 2.1 reference server) not installed");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let data = json!({
        "/discovery": {
            "title": "Taishi test TAXII server",
            "description": "medallion for taishi-intel tests",
            "contact": "test@example.org",
            "default": format!("{base}/api1/"),
            "api_roots": [format!("{base}/api1/")]
        },
        "api1": {
            "information": {
                "title": "api1",
                "description": "test root",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 10485760
            },
            "status": [],
            "collections": [{
                "id": COLLECTION,
                "title": "indicators",
                "description": "",
                "can_read": true,
                "can_write": true,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": [],
                "manifest": []
            }]
        }
    });
    let data_path = dir.join("data.json");
    std::fs::write(&data_path, serde_json::to_vec(&data).unwrap()).unwrap();
    let config = json!({
        "backend": {
            "module_class": "MemoryBackend",
            "module": "medallion.backends.memory_backend",
            "filename": data_path,
        },
        "users": {"admin": "Password0"},
        "taxii": {"max_page_size": 5}
    });
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let child = Command::new("python3")
        .args([
            "-m",
            "medallion.scripts.run",
            "--host",
            "127.0.0.1",
            "--port",
        ])
        .arg(port.to_string())
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start medallion");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "medallion did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((server, base))
}

fn indicator(n: usize, value: &str) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": format!("C2 {n}"),
        "indicator_types": ["malicious-activity"],
        "pattern": format!("[ipv4-addr:value = '{value}']"),
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z"
    })
}

#[test]
fn polls_with_paging_and_added_after() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((_server, base)) = start(tmp.path()) else {
        return;
    };
    let auth = Auth::Basic {
        user: "admin".into(),
        password: "Password0".into(),
    };
    let client = local(TaxiiClient::new(Some(auth.clone())));
    let roots = client.discover(&format!("{base}/taxii2/")).unwrap();
    assert_eq!(roots, vec![format!("{base}/api1/")]);
    let cols = client.collections(&roots[0]).unwrap();
    let col = cols
        .iter()
        .find(|c| c.id == COLLECTION)
        .unwrap()
        .url
        .clone();

    // 12 indicators; the server pages by at most 5.
    let first: Vec<Value> = (0..12)
        .map(|n| indicator(n, &format!("198.51.100.{}", n + 1)))
        .collect();
    client.add_objects(&col, &first).unwrap();

    // The same collection as a scheduled feed, pulled into the store.
    let mut store = IndicatorStore::open(tmp.path().join("intel")).unwrap();
    let mut feeds = Feeds::load(store.dir()).unwrap();
    feeds.limits.egress = &LOCAL;
    feeds
        .add(Feed {
            name: "taxii-test".into(),
            kind: FeedKind::Taxii,
            url: col.clone(),
            format: None,
            interval_secs: 3600,
            auth: Some(auth),
            last_pull: None,
            cursor: None,
            last_error: None,
        })
        .unwrap();

    let poll = client.poll(&col, None, 4).unwrap();
    assert_eq!(poll.objects.len(), 12);
    assert!(poll.pages >= 3, "pages: {}", poll.pages);
    let cursor = poll.cursor.clone().expect("X-TAXII-Date-Added-Last");

    let r1 = feeds.pull(&mut store, "taxii-test").unwrap();
    assert_eq!((r1.added, r1.total), (12, 12));
    assert_eq!(feeds.feeds[0].cursor.as_deref(), Some(cursor.as_str()));

    // Later additions: only they come back on the second poll.
    std::thread::sleep(Duration::from_millis(1100));
    let second: Vec<Value> = (12..15)
        .map(|n| indicator(n, &format!("203.0.113.{n}")))
        .collect();
    client.add_objects(&col, &second).unwrap();
    let poll2 = client.poll(&col, Some(&cursor), 4).unwrap();
    assert_eq!(poll2.objects.len(), 3, "{:?}", poll2.objects);

    let r2 = feeds.pull(&mut store, "taxii-test").unwrap();
    assert_eq!(
        (r2.added, r2.unchanged, r2.removed, r2.total),
        (3, 0, 0, 15)
    );
    assert_eq!(r2.new_indicators.len(), 3);

    // Nothing new: an empty poll keeps the cursor and the data.
    let r3 = feeds.pull(&mut store, "taxii-test").unwrap();
    assert_eq!((r3.added, r3.total), (0, 15));

    let m = store.load_matcher().unwrap();
    let mut e = Event::new();
    e.push("destination.ip", "203.0.113.13");
    let mut hits = Vec::new();
    m.match_event(&e, &mut hits);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].context.source, "taxii-test");
    assert_eq!(hits[0].context.name.as_deref(), Some("C2 13"));
}

/// A server on a real socket that answers every request with `status` and
/// `body`, closing the connection.
fn answering(status: &'static str, body: &'static str) -> String {
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/taxii2/", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn fetch_errors_say_whether_a_retry_can_help() {
    use taishi_event::{ErrorKind, Kinded};
    use taishi_intel::taxii::FetchError;
    let client = local(TaxiiClient::new(None));
    let kind_of = |url: &str| {
        let e = client.discover(url).unwrap_err();
        (e.kind(), e)
    };
    let (k, e) = kind_of(&answering("503 Service Unavailable", "busy"));
    assert_eq!(k, ErrorKind::Transient, "{e}");
    assert!(matches!(e, FetchError::Status { status: 503, .. }), "{e}");
    let (k, e) = kind_of(&answering("404 Not Found", "no such root"));
    assert_eq!(k, ErrorKind::Rejected, "{e}");
    assert!(e.to_string().contains("HTTP 404: no such root"), "{e}");
    let (k, e) = kind_of(&answering("200 OK", "not json"));
    assert_eq!(k, ErrorKind::Rejected, "{e}");
    // Nothing listens there any more: the network, which may come back.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (k, e) = kind_of(&format!("http://{closed}/taxii2/"));
    assert_eq!(k, ErrorKind::Transient, "{e}");
}
