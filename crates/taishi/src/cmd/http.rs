//! The CLI's requests to a running `taishi serve` (`--server`), over plain
//! HTTP with std only: no TLS (an SSH tunnel or a local proxy reaches an
//! HTTPS server).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

/// Most bytes of an answer read: the CLI's answers are reports and result
/// pages, far below this.
const MAX_ANSWER: u64 = 256 << 20;

/// POSTs `body` to `path` (with its query) of the server at `url`
/// (`http://host:port`), with the token as a bearer token; the answer's
/// body when the status is 200, else an error carrying the server's.
pub fn post(
    url: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>> {
    request("POST", url, path, token, content_type, body, timeout)
}

/// GETs `path` (with its query) of the server at `url`; as [`post`].
pub fn get(url: &str, path: &str, token: Option<&str>, timeout: Duration) -> Result<Vec<u8>> {
    request("GET", url, path, token, "application/json", &[], timeout)
}

fn request(
    method: &str,
    url: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("--server: only http:// URLs are supported by this build (got {url}); use an SSH tunnel or a local proxy for HTTPS");
    };
    let (hostport, base) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let addr = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let mut req = format!(
        "{method} {base}{path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: {content_type}\r\nAccept: application/json\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    let mut s = TcpStream::connect(&addr).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.take(MAX_ANSWER)
        .read_to_end(&mut resp)
        .with_context(|| format!("reading the answer of {addr}"))?;
    let Some(split) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
        bail!("{url}: malformed HTTP answer");
    };
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let mut payload = resp[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    if head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    }) {
        payload = dechunk(&payload)?;
    }
    if status != 200 {
        let msg = serde_json::from_slice::<Json>(&payload)
            .ok()
            .and_then(|j| {
                j.get("error")
                    .map(|e| e.as_str().map_or(e.to_string(), str::to_string))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&payload).into_owned());
        bail!("{url}: HTTP {status}: {msg}");
    }
    Ok(payload)
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            bail!("malformed chunked answer");
        };
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("malformed chunk size")?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = b.get(..size).context("truncated chunk")?;
        out.extend_from_slice(chunk);
        b = b.get(size + 2..).unwrap_or_default();
    }
}
