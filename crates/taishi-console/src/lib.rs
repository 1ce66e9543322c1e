//! The web console, embedded.
//!
//! `web/` is a Vite + React project; its build (`web/dist`, committed) is
//! compiled into the binary here so that `taishi serve` needs no Node and no
//! files beside it. [`router`] serves it: hashed assets (`/assets/*`) are
//! immutable, `index.html` is revalidated on every load, and any other GET
//! path that is not a file (a client-side route such as `/alerts/42`) gets
//! `index.html`. The service mounts the router as its fallback, so API
//! paths it does not know still answer as the API does (JSON 404).

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rust_embed::{EmbeddedFile, RustEmbed};

#[derive(RustEmbed)]
#[folder = "../../web/dist"]
struct Dist;

/// Content-Security-Policy of the console: everything from this origin.
/// Styles need 'unsafe-inline' because ECharts and CodeMirror set element
/// styles and CodeMirror injects its theme as a <style> element.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; \
base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The console as a stateless router: mount it with `Router::fallback_service`
/// or `merge` it under the API.
pub fn router() -> Router {
    Router::new().fallback(serve)
}

/// Whether the console has been built into this binary (false only for a
/// checkout whose `web/dist` was emptied).
pub fn is_built() -> bool {
    Dist::get("index.html").is_some()
}

/// Paths that belong to the service, never to the console: an unknown one
/// is a 404 in the API's JSON shape, not the console's HTML.
fn is_service_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path == "/metrics"
        || path.starts_with("/_")
        || path == "/ingest"
        || path.starts_with("/ingest/")
}

async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if is_service_path(path) {
        return json_error(
            StatusCode::NOT_FOUND,
            &format!("no endpoint {method} {path}; see /api/v1/openapi.json"),
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "the console only answers GET and HEAD",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    if let Some(file) = Dist::get(rel) {
        return respond(rel, file, &headers, method == Method::HEAD);
    }
    // A missing file (a stale hashed asset after an upgrade) must be a 404:
    // answering index.html would be parsed as script or style.
    let last = rel.rsplit('/').next().unwrap_or(rel);
    if rel.starts_with("assets/") || last.contains('.') {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match Dist::get("index.html") {
        Some(file) => respond("index.html", file, &headers, method == Method::HEAD),
        None => (
            StatusCode::NOT_FOUND,
            "the web console was not built into this binary (run `npm run build` in web/)",
        )
            .into_response(),
    }
}

fn respond(name: &str, file: EmbeddedFile, req: &HeaderMap, head: bool) -> Response {
    let etag = format!(
        "\"{}\"",
        file.metadata
            .sha256_hash()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let immutable = name.starts_with("assets/");
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mime = file.metadata.mimetype();
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type(mime))
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if name == "index.html" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    if req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    // Text assets are stored a second time gzip-compressed by the build
    // (web/scripts/compress.mjs); send that copy to clients that take it.
    let mut body = file.data;
    if accepts_gzip(req) {
        if let Some(gz) = Dist::get(&format!("{name}.gz")) {
            body = gz.data;
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    if is_compressible(mime) {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if head {
        return (StatusCode::OK, h).into_response();
    }
    (StatusCode::OK, h, Body::from(body.into_owned())).into_response()
}

fn content_type(mime: &str) -> String {
    if mime.starts_with("text/") || mime == "application/javascript" || mime == "image/svg+xml" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

fn is_compressible(mime: &str) -> bool {
    mime.starts_with("text/")
        || mime == "application/javascript"
        || mime == "application/json"
        || mime == "image/svg+xml"
}

fn accepts_gzip(h: &HeaderMap) -> bool {
    h.get_all(header::ACCEPT_ENCODING).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|p| {
                let mut it = p.trim().split(';');
                let enc = it.next().unwrap_or("").trim();
                let q0 = it.any(|q| {
                    q.trim()
                        .strip_prefix("q=")
                        .and_then(|x| x.trim().parse::<f32>().ok())
                        == Some(0.0)
                });
                (enc.eq_ignore_ascii_case("gzip") || enc == "*") && !q0
            })
        })
    })
}

fn json_error(status: StatusCode, msg: &str) -> Response {
    let body = format!(
        "{{\"error\":{}}}",
        // A JSON string of `msg`: only quotes, backslashes and controls need escaping.
        json_string(msg)
    );
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = Request::get(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        router()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn text(r: Response) -> String {
        let b = r.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&b).into_owned()
    }

    fn an_asset(ext: &str) -> String {
        Dist::iter()
            .find(|p| p.starts_with("assets/") && p.ends_with(ext))
            .map(|p| p.into_owned())
            .expect("the built console has assets")
    }

    #[tokio::test]
    async fn index_is_served_uncached_with_csp() {
        let r = get("/", &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(text(r).await.contains("<div id=\"root\">"));
    }

    #[tokio::test]
    async fn client_routes_fall_back_to_index() {
        for p in ["/alerts/abc", "/overview", "/rules/new?x=1"] {
            let r = get(p, &[]).await;
            assert_eq!(r.status(), StatusCode::OK, "{p}");
            assert!(text(r).await.contains("<div id=\"root\">"), "{p}");
        }
    }

    #[tokio::test]
    async fn assets_have_their_type_and_are_immutable() {
        let js = an_asset(".js");
        let r = get(&format!("/{js}"), &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            r.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let css = an_asset(".css");
        let r = get(&format!("/{css}"), &[]).await;
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
    }

    #[tokio::test]
    async fn gzip_copy_when_accepted_and_etag_revalidates() {
        let js = an_asset(".js");
        let r = get(&format!("/{js}"), &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
        let b = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&b[..2], &[0x1f, 0x8b]);
        let r = get(&format!("/{js}"), &[("if-none-match", &etag)]).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = get(&format!("/{js}"), &[("accept-encoding", "gzip;q=0")]).await;
        assert!(!r.headers().contains_key(header::CONTENT_ENCODING));
    }

    #[tokio::test]
    async fn service_paths_and_missing_files_are_not_the_console() {
        let r = get("/api/v1/nope", &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert!(text(r).await.contains("\"error\""));
        assert_eq!(get("/metrics", &[]).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/_bulk", &[]).await.status(), StatusCode::NOT_FOUND);
        let r = get("/assets/index-gone.js", &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = router()
            .oneshot(Request::post("/alerts").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn json_error_escapes() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
