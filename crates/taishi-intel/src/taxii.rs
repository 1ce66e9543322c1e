//! TAXII 2.1 client: discovery, API roots, collections, and polling a
//! collection's objects with `added_after` and paging.
//!
//! Paging follows the server's `next` token while `more` is true; a server
//! that pages without `next` is continued with `added_after` set to the
//! page's `X-TAXII-Date-Added-Last`. The cursor kept between polls is the
//! last `X-TAXII-Date-Added-Last` seen (the newest `date_added` delivered),
//! so the next poll asks only for what was added since.

use std::sync::Arc;
use std::time::Duration;

use taishi_egress::{EgressError, EgressPolicy};

use base64::Engine;
use serde::Serialize;
use serde_json::Value;

/// A request to a feed or TAXII server that failed, with whether trying
/// again later can help.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server could not be reached or its answer not read (network,
    /// timeout, TLS).
    #[error("{0}")]
    Network(String),
    /// The server answered with an error status.
    #[error("{method} {url}: HTTP {status}: {body}")]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The answer is not what the protocol says (not JSON, cannot page).
    #[error("{0}")]
    Protocol(String),
    /// The answer is larger than a download may be.
    #[error(transparent)]
    Limit(#[from] crate::LimitExceeded),
    /// The URL, or an address its host resolved to, is refused by the
    /// egress policy (`[egress]`).
    #[error(transparent)]
    Egress(#[from] EgressError),
}

impl FetchError {
    fn status(method: &'static str, url: &str, resp: &Response) -> FetchError {
        FetchError::Status {
            method,
            url: url.to_string(),
            status: resp.status,
            body: String::from_utf8_lossy(&resp.body[..resp.body.len().min(300)]).into_owned(),
        }
    }
}

impl taishi_event::Kinded for FetchError {
    /// A network failure, a server error (5xx), 408 or 429 may pass; a
    /// refusal (other 4xx), a malformed answer or an oversized one will not.
    fn kind(&self) -> taishi_event::ErrorKind {
        use taishi_event::ErrorKind;
        match self {
            FetchError::Network(_) => ErrorKind::Transient,
            FetchError::Status { status, .. } if *status >= 500 || matches!(status, 408 | 429) => {
                ErrorKind::Transient
            }
            FetchError::Status { .. } | FetchError::Protocol(_) => ErrorKind::Rejected,
            FetchError::Limit(_) => ErrorKind::TooLarge,
            // A name that did not resolve may resolve later; a refusal
            // stands until the config changes.
            FetchError::Egress(e) if !e.is_refusal() => ErrorKind::Transient,
            FetchError::Egress(_) => ErrorKind::Rejected,
        }
    }
}

pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// Credentials for a server or feed.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    Basic {
        user: String,
        password: String,
    },
    /// `Authorization: <key>` (MISP) or a bearer token (`Bearer …`).
    Header {
        value: String,
    },
}

impl Auth {
    pub fn header(&self) -> String {
        match self {
            Auth::Basic { user, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
            Auth::Header { value } => value.clone(),
        }
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A small blocking HTTP client shared by the TAXII, MISP and feed code.
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    /// Checked before each request (scheme, userinfo, address literals);
    /// the agent's resolver checks every address connected to.
    egress: Arc<EgressPolicy>,
    /// Largest body read (a TAXII page or a feed download), counted after
    /// any Content-Encoding is undone.
    max_body: u64,
}

impl Default for Http {
    fn default() -> Self {
        Http::new(Duration::from_secs(120))
    }
}

impl Http {
    /// A client that refuses private targets (the default policy).
    pub fn new(timeout: Duration) -> Http {
        Http::with_egress(timeout, &crate::limits::DEFAULT_EGRESS)
    }

    /// A client that connects only where `egress` allows.
    pub fn with_egress(timeout: Duration, egress: &EgressPolicy) -> Http {
        let egress = Arc::new(egress.clone());
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("taishi/", env!("CARGO_PKG_VERSION")));
        Http {
            agent: taishi_egress::ureq_guard::agent(egress.clone(), config),
            egress,
            max_body: crate::limits::DEFAULT_MAX_BYTES,
        }
    }

    /// A client for one feed pull: its egress policy and body limit.
    pub fn for_limits(lim: &crate::Limits) -> Http {
        Http::with_egress(Duration::from_secs(120), lim.egress).with_max_body(lim.max_bytes)
    }

    /// The same client reading at most `max` bytes of each body.
    pub fn with_max_body(mut self, max: u64) -> Http {
        self.max_body = max;
        self
    }

    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Response, FetchError> {
        self.egress.check_url(url)?;
        let mut req = self.agent.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.call().map_err(|e| network("GET", url, e))?;
        read(url, resp, self.max_body)
    }

    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, FetchError> {
        self.egress.check_url(url)?;
        let mut req = self.agent.post(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send(body).map_err(|e| network("POST", url, e))?;
        read(url, resp, self.max_body)
    }
}

/// A failed request: the egress policy's refusal (typed) or a network
/// failure.
fn network(method: &str, url: &str, e: ureq::Error) -> FetchError {
    match taishi_egress::ureq_guard::refusal(&e) {
        Some(r) => FetchError::Egress(r.clone()),
        None => FetchError::Network(format!("{method} {url}: {e}")),
    }
}

fn read(
    url: &str,
    mut resp: ureq::http::Response<ureq::Body>,
    max: u64,
) -> Result<Response, FetchError> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp
        .body_mut()
        .with_config()
        .limit(max)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => FetchError::Limit(crate::LimitExceeded {
                entry: url.to_string(),
                kind: crate::LimitKind::Download,
                limit: max,
            }),
            e => FetchError::Network(format!("{url}: reading the body: {e}")),
        })?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// One TAXII 2.1 server.
#[derive(Clone)]
pub struct TaxiiClient {
    http: Http,
    auth: Option<Auth>,
    /// A poll stops after this many objects; its cursor then covers what it
    /// read, so the next poll goes on from there.
    max_objects: usize,
}

/// A collection as the server describes it.
#[derive(Debug, Clone, Serialize)]
pub struct Collection {
    pub id: String,
    pub title: String,
    pub can_read: bool,
    pub can_write: bool,
    /// The collection's URL (`<api root>/collections/<id>/`).
    pub url: String,
}

/// The objects one poll gave.
#[derive(Debug, Default)]
pub struct Poll {
    pub objects: Vec<Value>,
    /// Requests made (pages).
    pub pages: usize,
    /// The newest `date_added` delivered, for the next poll's `added_after`
    /// (the previous cursor when nothing new arrived).
    pub cursor: Option<String>,
}

impl TaxiiClient {
    pub fn new(auth: Option<Auth>) -> TaxiiClient {
        TaxiiClient {
            http: Http::default(),
            auth,
            max_objects: usize::MAX,
        }
    }

    /// Requests made through `http` (its egress policy and body limit).
    pub fn with_http(mut self, http: Http) -> TaxiiClient {
        self.http = http;
        self
    }

    pub fn with_max_objects(mut self, max: usize) -> TaxiiClient {
        self.max_objects = max;
        self
    }

    /// Each page read at most `max` bytes.
    pub fn with_max_body(mut self, max: u64) -> TaxiiClient {
        self.http = self.http.with_max_body(max);
        self
    }

    fn get_json(&self, url: &str) -> Result<(Value, Response), FetchError> {
        let auth = self.auth.as_ref().map(Auth::header);
        let mut headers = vec![("Accept", TAXII_MEDIA_TYPE)];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let resp = self.http.get(url, &headers)?;
        if resp.status != 200 {
            return Err(FetchError::status("GET", url, &resp));
        }
        let v = serde_json::from_slice(&resp.body)
            .map_err(|e| FetchError::Protocol(format!("GET {url}: not TAXII JSON: {e}")))?;
        Ok((v, resp))
    }

    /// API root URLs from the server's discovery resource.
    pub fn discover(&self, discovery_url: &str) -> Result<Vec<String>, FetchError> {
        let (v, _) = self.get_json(discovery_url)?;
        let base = origin_of(discovery_url);
        Ok(v.get("api_roots")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|r| absolute(&base, r))
            .collect())
    }

    pub fn collections(&self, api_root: &str) -> Result<Vec<Collection>, FetchError> {
        let root = with_slash(api_root);
        let (v, _) = self.get_json(&format!("{root}collections/"))?;
        Ok(v.get("collections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let id = c.get("id")?.as_str()?.to_string();
                Some(Collection {
                    url: format!("{root}collections/{id}/"),
                    title: c
                        .get("title")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    can_read: c.get("can_read").and_then(Value::as_bool).unwrap_or(false),
                    can_write: c.get("can_write").and_then(Value::as_bool).unwrap_or(false),
                    id,
                })
            })
            .collect())
    }

    /// Every object added to the collection after `added_after` (all when
    /// None), `page_size` per request.
    pub fn poll(
        &self,
        collection_url: &str,
        added_after: Option<&str>,
        page_size: usize,
    ) -> Result<Poll, FetchError> {
        let base = format!("{}objects/", with_slash(collection_url));
        let mut poll = Poll {
            cursor: added_after.map(str::to_string),
            ..Default::default()
        };
        let mut after = added_after.map(str::to_string);
        let mut next: Option<String> = None;
        // A server that never sets more=false must not loop forever.
        for _ in 0..100_000 {
            let mut q = vec![format!("limit={page_size}")];
            if let Some(n) = &next {
                q.push(format!("next={}", encode(n)));
            }
            if let Some(a) = &after {
                q.push(format!("added_after={}", encode(a)));
            }
            let url = format!("{base}?{}", q.join("&"));
            let (v, resp) = self.get_json(&url)?;
            poll.pages += 1;
            let objs = v
                .get("objects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let got = objs.len();
            poll.objects.extend(objs);
            let last = resp.header("X-TAXII-Date-Added-Last").map(str::to_string);
            if let Some(l) = &last {
                if poll.cursor.as_deref().is_none_or(|c| newer(l, c)) {
                    poll.cursor = Some(l.clone());
                }
            }
            let more = v.get("more").and_then(Value::as_bool).unwrap_or(false);
            if !more || got == 0 || poll.objects.len() >= self.max_objects {
                return Ok(poll);
            }
            match v.get("next").and_then(Value::as_str) {
                Some(n) => next = Some(n.to_string()),
                None => match last {
                    Some(l) => {
                        next = None;
                        after = Some(l);
                    }
                    None => {
                        return Err(FetchError::Protocol(format!(
                            "{url}: more=true without next or X-TAXII-Date-Added-Last; cannot page"
                        )))
                    }
                },
            }
        }
        Err(FetchError::Protocol(format!(
            "{base}: more than 100000 pages"
        )))
    }

    /// Adds objects to a collection (used by tests and for sharing back).
    pub fn add_objects(
        &self,
        collection_url: &str,
        objects: &[Value],
    ) -> Result<Value, FetchError> {
        let url = format!("{}objects/", with_slash(collection_url));
        let body = serde_json::to_vec(&serde_json::json!({ "objects": objects }))
            .map_err(|e| FetchError::Protocol(e.to_string()))?;
        let auth = self.auth.as_ref().map(Auth::header);
        let mut headers = vec![
            ("Accept", TAXII_MEDIA_TYPE),
            ("Content-Type", TAXII_MEDIA_TYPE),
        ];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let resp = self.http.post(&url, &headers, &body)?;
        if !(200..300).contains(&resp.status) {
            return Err(FetchError::status("POST", &url, &resp));
        }
        serde_json::from_slice(&resp.body)
            .map_err(|e| FetchError::Protocol(format!("POST {url}: {e}")))
    }
}

/// TAXII timestamps are RFC 3339 in UTC; compare as times, not strings
/// (fraction digits vary).
fn newer(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(x), Ok(y)) => x > y,
        _ => a > b,
    }
}

fn with_slash(u: &str) -> String {
    if u.ends_with('/') {
        u.to_string()
    } else {
        format!("{u}/")
    }
}

fn origin_of(u: &str) -> String {
    let after = u.find("://").map_or(0, |i| i + 3);
    match u[after..].find('/') {
        Some(p) => u[..after + p].to_string(),
        None => u.to_string(),
    }
}

fn absolute(origin: &str, r: &str) -> String {
    if r.contains("://") {
        r.to_string()
    } else {
        format!("{origin}/{}", r.trim_start_matches('/'))
    }
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
