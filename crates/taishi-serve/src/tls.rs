//! HTTPS for the API and the console (`[http.tls]`): the certificate and key
//! files read at start, the handshake inside the HTTP accept loop (with its
//! own timeout, under the same connection caps), and what every answer over
//! TLS carries (HSTS, a `Secure` session cookie).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde::{Deserialize, Serialize};

/// `[http.tls]`: serve HTTPS instead of HTTP on `http.listen`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TlsSection {
    /// The certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// A client must finish its TLS handshake within this many seconds of
    /// connecting (a connection that never speaks holds a slot otherwise).
    #[serde(default = "default_handshake_secs")]
    pub handshake_timeout_secs: u64,
}

fn default_handshake_secs() -> u64 {
    10
}

/// Why the HTTPS configuration could not be built; each names the file and
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("http.tls.{key}: cannot read {path}: {error} (check the path and that the service user may read it)")]
    Read {
        key: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("http.tls: {cert} / {key_path}: {error} (give a PEM certificate chain, leaf first, in `cert` and its PEM private key in `key`)")]
    Material {
        cert: PathBuf,
        key_path: PathBuf,
        error: taishi_ingest::syslog::TlsConfigError,
    },
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        key,
        path: path.to_path_buf(),
        error,
    })
}

/// Reads and checks the certificate and key; the acceptor for the accept
/// loop. The PEM parsing and the rustls set-up are the syslog TLS
/// listener's (`taishi_ingest::syslog::tls_server_config`), so both ends
/// take the same files the same way.
pub fn acceptor(cfg: &TlsSection) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let cert = read("cert", &cfg.cert)?;
    let key = read("key", &cfg.key)?;
    let server = taishi_ingest::syslog::tls_server_config(&cert, &key, None).map_err(|error| {
        TlsError::Material {
            cert: cfg.cert.clone(),
            key_path: cfg.key.clone(),
            error,
        }
    })?;
    // Only HTTP/1.1 is served; saying so lets a client skip an h2 attempt.
    let mut server = Arc::unwrap_or_clone(server);
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
}

/// What `taishi config check` says about `[http.tls]`: the files must be
/// there (their contents are checked at start).
pub fn problems(cfg: Option<&TlsSection>) -> Vec<String> {
    let Some(cfg) = cfg else {
        return Vec::new();
    };
    let mut p = Vec::new();
    for (key, path) in [("cert", &cfg.cert), ("key", &cfg.key)] {
        if !path.is_file() {
            p.push(format!(
                "http.tls.{key}: {} is not a readable file (give the PEM file's path)",
                path.display()
            ));
        }
    }
    if !(1..=300).contains(&cfg.handshake_timeout_secs) {
        p.push("http.tls.handshake_timeout_secs: between 1 and 300".into());
    }
    p
}

impl TlsSection {
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs.clamp(1, 300))
    }
}

/// One year, as the HSTS preload list asks; no `includeSubDomains`, since
/// the console's host name says nothing about its neighbours.
const HSTS: &str = "max-age=31536000";

/// Every answer over TLS: `Strict-Transport-Security`, and `Secure` on
/// every cookie set (the session cookie), so a browser never sends the
/// session over plain HTTP.
pub async fn harden(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    );
    let cookies: Vec<HeaderValue> = h.get_all(header::SET_COOKIE).iter().cloned().collect();
    if !cookies.is_empty() {
        h.remove(header::SET_COOKIE);
        for c in cookies {
            let secure = match c.to_str() {
                Ok(s) if !s.to_ascii_lowercase().contains("; secure") => {
                    HeaderValue::from_str(&format!("{s}; Secure")).unwrap_or(c)
                }
                _ => c,
            };
            h.append(header::SET_COOKIE, secure);
        }
    }
    resp
}

/// What a client speaking plain HTTP to the HTTPS port is told: TLS
/// records start with 0x16 (handshake), an HTTP request with a letter.
pub fn plain_http_answer() -> Vec<u8> {
    let body = "This port speaks HTTPS: use https:// / 此端口使用 HTTPS，请用 https:// 访问\n";
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Whether the first byte a client sent opens a TLS handshake record.
pub fn is_tls_start(first: u8) -> bool {
    first == 0x16
}

/// The TLS handshake of an accepted connection, within `timeout` and
/// abandoned when the connection is evicted or the server stops. A client
/// speaking plain HTTP is told to use https:// and closed. Failures are
/// counted on the HTTP listener (`tls_handshake_failures_total`).
pub(crate) async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: tokio::net::TcpStream,
    timeout: Duration,
    conn: &crate::Conn<'_>,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    use taishi_ingest::internal_events::TlsHandshakeFailed;
    use tokio::io::AsyncWriteExt;

    let attempt = async {
        let mut first = [0u8; 1];
        let n = stream.peek(&mut first).await?;
        if n == 1 && !is_tls_start(first[0]) {
            let mut stream = stream;
            // Best effort: the client gets a reason; the connection closes either way.
            let _ = stream.write_all(&plain_http_answer()).await;
            let _ = stream.shutdown().await;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "plain HTTP on the HTTPS port",
            ));
        }
        acceptor.accept(stream).await
    };
    let r = tokio::select! {
        r = tokio::time::timeout(timeout, attempt) => r,
        _ = conn.guard.evicted.cancelled() => return None,
        _ = conn.cancel.cancelled() => return None,
    };
    let peer = conn.peer;
    match r {
        Ok(Ok(s)) => {
            conn.guard.activity.touch();
            Some(s)
        }
        Ok(Err(e)) => {
            conn.metrics.emit(TlsHandshakeFailed {
                peer,
                error: Some(&e),
            });
            None
        }
        Err(_) => {
            conn.metrics.emit(TlsHandshakeFailed { peer, error: None });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_http_answer_has_a_true_length() {
        let a = plain_http_answer();
        let text = std::str::from_utf8(&a).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
    }

    #[tokio::test]
    async fn hsts_and_secure_cookies() {
        let mut r = Response::new(axum::body::Body::empty());
        r.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_static("taishi_session=x; HttpOnly; Path=/"),
        );
        r.headers_mut()
            .append(header::SET_COOKIE, HeaderValue::from_static("b=1; Secure"));
        let r = harden(r).await;
        assert_eq!(r.headers()[header::STRICT_TRANSPORT_SECURITY], HSTS);
        let c: Vec<_> = r.headers().get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(c[0], "taishi_session=x; HttpOnly; Path=/; Secure");
        assert_eq!(c[1], "b=1; Secure");
    }
}
