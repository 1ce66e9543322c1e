//! Feed, TAXII and MISP requests go through the egress policy: private,
//! loopback, metadata targets and non-HTTP schemes are refused with the
//! typed error before any connection, and a real server on 127.0.0.1 is
//! never reached unless the policy allows it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use taishi_intel::taxii::{FetchError, Http, TaxiiClient};
use taishi_intel::{
    EgressError, EgressPolicy, Feed, FeedKind, Feeds, IndicatorStore, Limits, Source,
};

/// A feed server on 127.0.0.1 answering one indicator; counts connections.
fn feed_server() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            h.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "198.51.100.77\n";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}"), hits)
}

fn refused(e: &FetchError) -> &EgressError {
    match e {
        FetchError::Egress(r) => r,
        e => panic!("not refused by the egress policy: {e}"),
    }
}

#[test]
fn feed_urls_to_private_targets_are_refused() {
    let (base, hits) = feed_server();
    let port = base.rsplit(':').next().unwrap();
    let http = Http::new(Duration::from_secs(5));
    for url in [
        format!("{base}/feed.txt"),
        format!("http://localhost:{port}/feed.txt"),
        format!("http://[::1]:{port}/feed.txt"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/feed.txt".to_string(),
    ] {
        let e = http.get(&url, &[]).unwrap_err();
        assert!(
            matches!(refused(&e), EgressError::Address { .. }),
            "{url}: {e}"
        );
        use taishi_event::{ErrorKind, Kinded};
        assert_eq!(e.kind(), ErrorKind::Rejected, "{url}");
    }
    for url in ["file:///etc/passwd", "gopher://127.0.0.1:70/"] {
        let e = http.get(url, &[]).unwrap_err();
        assert!(
            matches!(refused(&e), EgressError::Scheme { .. }),
            "{url}: {e}"
        );
    }
    // TAXII and MISP go through the same client.
    let e = TaxiiClient::new(None)
        .discover(&format!("{base}/taxii2/"))
        .unwrap_err();
    refused(&e);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the feed server was reached"
    );
}

#[test]
fn a_scheduled_feed_pull_names_the_refusal_and_allow_private_lets_it_through() {
    let (base, hits) = feed_server();
    let dir = tempfile::tempdir().unwrap();
    let mut store = IndicatorStore::open(dir.path()).unwrap();
    let mut feeds = Feeds::load(store.dir()).unwrap();
    feeds
        .add(Feed {
            name: "local".into(),
            kind: FeedKind::Url,
            url: format!("{base}/feed.txt"),
            format: Some("text".into()),
            interval_secs: 3600,
            auth: None,
            last_pull: None,
            cursor: None,
            last_error: None,
        })
        .unwrap();
    let e = feeds.pull(&mut store, "local").unwrap_err().to_string();
    assert!(
        e.contains("loopback") && e.contains("allow_private") && e.contains("环回"),
        "{e}"
    );
    assert_eq!(feeds.feeds[0].last_error.as_deref(), Some(e.as_str()));
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    static LOCAL: EgressPolicy = EgressPolicy {
        allow_private: true,
        allow: Vec::new(),
    };
    feeds.limits.egress = &LOCAL;
    let r = feeds.pull(&mut store, "local").unwrap();
    assert_eq!(r.added, 1, "{r:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // One-off imports by URL obey the limits' policy too.
    let read = taishi_intel::read_source_with(
        &Source::Url(format!("{base}/feed.txt")),
        None,
        "x",
        &Limits::default(),
    );
    assert!(read.batch.indicators.is_empty());
    assert!(
        read.batch.errors[0].reason.contains("loopback"),
        "{:?}",
        read.batch.errors
    );
}
