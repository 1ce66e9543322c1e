//! The guard against real sockets: ureq and reqwest clients built with it
//! are refused loopback, link-local, private and metadata targets, by
//! literal, by name and through a redirect, with the typed error; the
//! refused servers never see a connection.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use taishi_egress::{ureq_guard, Category, EgressError, EgressPolicy};

/// A tiny HTTP server on `ip`: `/redirect?to=…` answers 302 to `to`,
/// anything else 200 "ok". Counts connections.
struct Server {
    base: String,
    hits: Arc<AtomicUsize>,
}

fn server(ip: &str) -> Server {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            h.fetch_add(1, Ordering::SeqCst);
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                    break;
                }
            }
            let path = line.split(' ').nth(1).unwrap_or("/").to_string();
            let resp = match path.split_once("/redirect?to=") {
                Some((_, to)) => format!(
                    "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ),
                None => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".into(),
            };
            let _ = s.write_all(resp.as_bytes());
        }
    });
    Server {
        base: format!("http://{addr}"),
        hits,
    }
}

fn ureq_agent(p: EgressPolicy) -> ureq::Agent {
    let cfg = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false);
    ureq_guard::agent(Arc::new(p), cfg)
}

/// The refusal a ureq GET met, after the URL check a client makes first.
fn ureq_refusal(agent: &ureq::Agent, p: &EgressPolicy, url: &str) -> EgressError {
    if let Err(e) = p.check_url(url) {
        return e;
    }
    let e = agent.get(url).call().expect_err(url);
    ureq_guard::refusal(&e)
        .cloned()
        .unwrap_or_else(|| panic!("{url}: not refused by the guard: {e}"))
}

fn category(e: &EgressError) -> Category {
    match e {
        EgressError::Address { category, .. } => *category,
        e => panic!("not an address refusal: {e}"),
    }
}

#[test]
fn ureq_refuses_private_targets_by_literal_and_name() {
    let target = server("127.0.0.1");
    let port = target.base.rsplit(':').next().unwrap().to_string();
    let p = EgressPolicy::default();
    let agent = ureq_agent(p.clone());
    for (url, want) in [
        (target.base.clone(), Category::Loopback),
        (format!("http://localhost:{port}/"), Category::Loopback),
        (format!("http://[::1]:{port}/"), Category::Loopback),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            Category::CloudMetadata,
        ),
        ("http://10.0.0.1/feed.csv".into(), Category::Private),
        (format!("http://2130706433:{port}/"), Category::Loopback),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            Category::Loopback,
        ),
    ] {
        assert_eq!(category(&ureq_refusal(&agent, &p, &url)), want, "{url}");
        // The guard inside the agent holds without the URL check too
        // (a caller that forgets it, or a hop ureq follows itself).
        let e = agent.get(&url).call().expect_err(&url);
        let r = ureq_guard::refusal(&e).unwrap_or_else(|| panic!("{url}: {e}"));
        assert_eq!(category(r), want, "{url}");
    }
    for url in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/1",
        "ftp://example.org/x",
    ] {
        let e = ureq_refusal(&agent, &p, url);
        assert!(matches!(e, EgressError::Scheme { .. }), "{url}: {e}");
        assert!(
            e.to_string().contains("http") && e.to_string().contains("协议"),
            "{e}"
        );
    }
    assert_eq!(
        target.hits.load(Ordering::SeqCst),
        0,
        "a refused server was reached"
    );
}

#[test]
fn ureq_redirect_to_loopback_is_refused() {
    // The allowed server is on 127.0.0.2, allow-listed by address; the
    // redirect points at 127.0.0.1, which stays refused.
    let allowed = server("127.0.0.2");
    let target = server("127.0.0.1");
    let p = EgressPolicy {
        allow_private: false,
        allow: vec!["127.0.0.2".parse().unwrap()],
    };
    let agent = ureq_agent(p.clone());
    let ok = agent.get(&format!("{}/ok", allowed.base)).call().unwrap();
    assert_eq!(ok.status(), 200);
    let url = format!("{}/redirect?to={}/secret", allowed.base, target.base);
    let e = ureq_refusal(&agent, &p, &url);
    assert_eq!(category(&e), Category::Loopback, "{e}");
    assert_eq!(target.hits.load(Ordering::SeqCst), 0);
    // A redirect to another scheme never reads a file: ureq fails, hands
    // back the 302, or (as 3.5 does) takes the Location as a path on the
    // same http server, which answers "ok".
    let url = format!("{}/redirect?to=file:///etc/passwd", allowed.base);
    if let Ok(mut r) = agent.get(&url).call() {
        let body = r.body_mut().read_to_string().unwrap();
        assert!(r.status() == 302 || body == "ok", "{body}");
    }
}

#[test]
fn allow_private_lets_the_test_server_through_but_not_metadata() {
    let target = server("127.0.0.1");
    let p = EgressPolicy::allow_private();
    let agent = ureq_agent(p.clone());
    assert_eq!(agent.get(&target.base).call().unwrap().status(), 200);
    let e = ureq_refusal(&agent, &p, "http://169.254.169.254/");
    assert_eq!(category(&e), Category::CloudMetadata);
    assert!(e.to_string().contains("[egress] allow"), "{e}");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn reqwest_refusal(p: &EgressPolicy, url: &str) -> EgressError {
    if let Err(e) = taishi_egress::reqwest_guard::check_request(p, url) {
        return e;
    }
    let c = taishi_egress::reqwest_guard::builder(Arc::new(p.clone()))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let e = c.post(url).body("{}").send().await.expect_err(url);
    taishi_egress::reqwest_guard::refusal(&e)
        .cloned()
        .unwrap_or_else(|| panic!("{url}: not refused by the guard: {e:?}"))
}

#[test]
fn reqwest_refuses_private_targets_and_redirects() {
    let target = server("127.0.0.1");
    let allowed = server("127.0.0.2");
    let port = target.base.rsplit(':').next().unwrap().to_string();
    rt().block_on(async {
        let p = EgressPolicy::default();
        for (url, want) in [
            (target.base.clone(), Category::Loopback),
            (format!("http://localhost:{port}/hook"), Category::Loopback),
            (format!("http://[::1]:{port}/"), Category::Loopback),
            ("http://169.254.169.254/".into(), Category::CloudMetadata),
            ("https://10.0.0.1/robot/send".into(), Category::Private),
        ] {
            assert_eq!(category(&reqwest_refusal(&p, &url).await), want, "{url}");
        }
        for url in ["file:///etc/passwd", "gopher://127.0.0.1/"] {
            let e = reqwest_refusal(&p, url).await;
            assert!(matches!(e, EgressError::Scheme { .. }), "{e}");
        }
        let p = EgressPolicy {
            allow_private: false,
            allow: vec!["127.0.0.2/32".parse().unwrap()],
        };
        let c = taishi_egress::reqwest_guard::builder(Arc::new(p.clone()))
            .build()
            .unwrap();
        assert_eq!(c.get(&allowed.base).send().await.unwrap().status(), 200);
        let url = format!("{}/redirect?to={}/x", allowed.base, target.base);
        assert_eq!(
            category(&reqwest_refusal(&p, &url).await),
            Category::Loopback
        );
    });
    assert_eq!(
        target.hits.load(Ordering::SeqCst),
        0,
        "a refused server was reached"
    );
}

#[test]
fn resolve_checks_every_address_of_a_host() {
    let p = EgressPolicy::default();
    let e = p.resolve("localhost", 514).unwrap_err();
    assert!(matches!(e, EgressError::Address { .. }), "{e}");
    let e = p.resolve("127.0.0.1", 514).unwrap_err();
    assert_eq!(category(&e), Category::Loopback);
    let ok = EgressPolicy::allow_private()
        .resolve("localhost", 514)
        .unwrap();
    assert!(ok.iter().all(|a| a.ip().is_loopback() && a.port() == 514));
    let ip: IpAddr = "8.8.8.8".parse().unwrap();
    assert_eq!(p.resolve("8.8.8.8", 53).unwrap()[0].ip(), ip);
}
