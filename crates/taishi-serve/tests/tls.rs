//! HTTPS for the API and the console (`[http.tls]`) against a running
//! server with a certificate made here: sign-in over TLS with HSTS and a
//! `Secure` session cookie; plain HTTP and a broken handshake to the HTTPS
//! port are closed cleanly and the server keeps serving; a missing or bad
//! certificate stops the start with the file named.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

struct Tls {
    connector: tokio_rustls::TlsConnector,
}

impl Tls {
    fn trusting(cert: &rcgen::CertifiedKey) -> Tls {
        Tls {
            connector: tls_connector(cert),
        }
    }

    /// One HTTP/1.1 request over TLS; the whole answer (head and body).
    async fn request(&self, addr: std::net::SocketAddr, req: &str) -> String {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut s = self.connector.connect(name, tcp).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        // `connection: close`: the server ends the stream after the answer.
        let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn login_request(password: &str) -> String {
    let body = format!(r#"{{"username":"admin","password":"{password}"}}"#);
    format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

const LIVEZ: &str = "GET /api/v1/livez HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";

fn header<'a>(answer: &'a str, name: &str) -> Vec<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

fn certificate(
    dir: &std::path::Path,
) -> (rcgen::CertifiedKey, std::path::PathBuf, std::path::PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cp, kp) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cp, cert.cert.pem()).unwrap();
    std::fs::write(&kp, cert.key_pair.serialize_pem()).unwrap();
    (cert, cp, kp)
}

fn tls_section(cert: &std::path::Path, key: &std::path::Path) -> taishi_serve::tls::TlsSection {
    toml::from_str(&format!(
        "cert = {:?}\nkey = {:?}\nhandshake_timeout_secs = 2\n",
        cert.display().to_string(),
        key.display().to_string()
    ))
    .unwrap()
}

#[test]
fn https_sign_in_with_hsts_and_a_secure_cookie_and_plain_http_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, cp, kp) = certificate(dir.path());
    let mut cfg = config(dir.path());
    cfg.http.tls = Some(tls_section(&cp, &kp));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let addr = server.http_addr;
    let pw = admin_password(&server).to_string();
    let tls = Tls::trusting(&cert);

    let answer = rt.block_on(tls.request(addr, &login_request(&pw)));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        header(&answer, "strict-transport-security"),
        ["max-age=31536000"]
    );
    let cookie = header(&answer, "set-cookie");
    assert_eq!(cookie.len(), 1, "{answer}");
    assert!(cookie[0].starts_with("taishi_session="), "{cookie:?}");
    assert!(cookie[0].ends_with("; Secure"), "{cookie:?}");
    assert!(cookie[0].contains("HttpOnly"), "{cookie:?}");

    // Plain HTTP to the HTTPS port: told to use https://, then closed.
    let plain = rt.block_on(async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(LIVEZ.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .expect("the server closes a plain HTTP connection")
            .unwrap();
        String::from_utf8(out).unwrap()
    });
    assert!(plain.starts_with("HTTP/1.1 400"), "{plain}");
    assert!(plain.contains("https://"), "{plain}");

    // A broken handshake (a TLS record header, then garbage) and a client
    // that connects and never speaks are both closed.
    rt.block_on(async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
            .await
            .unwrap();
        let mut out = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
        assert!(r.is_ok(), "a broken handshake is closed");
        let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut b = [0u8; 16];
        let r = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut b)).await;
        assert!(
            matches!(r, Ok(Ok(0)) | Ok(Err(_))),
            "a silent client is closed after the handshake timeout"
        );
    });

    // The server still serves, over TLS, with HSTS on every answer.
    let answer = rt.block_on(tls.request(addr, LIVEZ));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        header(&answer, "strict-transport-security"),
        ["max-age=31536000"]
    );
    // The failed handshakes are counted on the HTTP listener.
    let metrics = format!(
        "GET /metrics HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
        token(&rt, &tls, addr, &pw)
    );
    let m = rt.block_on(tls.request(addr, &metrics));
    let failures = m
        .lines()
        .find(|l| l.starts_with("taishi_ingest_tls_handshake_failures_total{listener=\"http\""))
        .unwrap_or_else(|| panic!("{m}"));
    assert!(!failures.ends_with(" 0"), "{failures}");

    rt.block_on(server.shutdown()).unwrap();
}

/// An API token of admin's, made over TLS.
fn token(rt: &tokio::runtime::Runtime, tls: &Tls, addr: std::net::SocketAddr, pw: &str) -> String {
    let answer = rt.block_on(tls.request(addr, &login_request(pw)));
    let cookie = header(&answer, "set-cookie")[0]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let csrf = body["csrf"].as_str().unwrap();
    let req_body = r#"{"name":"tls-test"}"#;
    let req = format!(
        "POST /api/v1/tokens HTTP/1.1\r\nhost: localhost\r\ncookie: {cookie}\r\nx-taishi-csrf: {csrf}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{req_body}",
        req_body.len()
    );
    let answer = rt.block_on(tls.request(addr, &req));
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    body["secret"].as_str().unwrap().to_string()
}

#[test]
fn a_missing_or_bad_certificate_stops_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cp, kp) = certificate(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();

    let missing = dir.path().join("nowhere.pem");
    let mut cfg = config(dir.path());
    cfg.http.tls = Some(tls_section(&missing, &kp));
    let e = format!("{:#}", rt.block_on(taishi_serve::start(cfg)).err().unwrap());
    assert!(e.contains("http.tls.cert"), "{e}");
    assert!(e.contains(&missing.display().to_string()), "{e}");
    // `taishi config check` says so too.
    let mut cfg = config(dir.path());
    cfg.http.tls = Some(tls_section(&missing, &kp));
    assert!(cfg.validate().iter().any(|p| p.contains("http.tls.cert")));

    // A key that is not PEM.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a key").unwrap();
    let mut cfg = config(dir.path());
    cfg.data_dir = dir.path().join("data2");
    cfg.http.tls = Some(tls_section(&cp, &junk));
    let e = format!("{:#}", rt.block_on(taishi_serve::start(cfg)).err().unwrap());
    assert!(e.contains(&junk.display().to_string()), "{e}");
    assert!(e.contains("private key"), "{e}");
}
