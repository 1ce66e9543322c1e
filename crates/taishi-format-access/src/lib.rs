//! Web server access logs: Apache/nginx `common` and `combined`, the
//! `vhost_combined` variant (`host[:port]` first), and nginx's default
//! `main` format with `"$http_x_forwarded_for"` appended.
//!
//! # Fields
//!
//! `source.ip` (or `source.domain` when the server logged a name) and
//! `source.address`, `user.name` (authuser, when not `-`), `access.ident`
//! (identd, when not `-`), `@timestamp` (its zone kept), `http.request.method`,
//! `url.original`, `url.path`, `url.query` (and `url.scheme`/`url.domain`
//! for absolute URIs), `http.version`, `http.response.status_code`,
//! `http.response.body.bytes`, `http.request.referrer`,
//! `user_agent.original`, `http.request.x_forwarded_for` and
//! `network.forwarded_ip` (its first address), `destination.domain`/
//! `destination.port` (vhost), `event.category` = `web`, `event.type` =
//! `access`, `event.outcome` (`failure` from status 400), `event.module` =
//! `access`. Anything the server appended after those fields is kept in
//! `access.extra`.
//!
//! A request line that is not `METHOD URI PROTOCOL` (`"-"`, `""`, binary
//! garbage, `"HELP"`, exploit payloads) still decodes: the raw text is in
//! `http.request.original`, and whatever parts could be read are filled.
//! Lines that are not access-log lines (a server's error log mixed in) are
//! rejected, saying what they look like.

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::DateTime;
use taishi_event::{
    ecs, for_each_line, Confidence, DecodeContext, Decoder, Event, Format, Location, Reject, Sink,
    Value,
};

type Fault = (&'static str, String);

/// How sure we are that `sample` is an access log: 85 when most lines have
/// the shape, 50 when some do.
pub fn probe(sample: &[u8]) -> Confidence {
    let (mut hit, mut total) = (0u32, 0u32);
    let ctx = DecodeContext::new("probe", Format::Access);
    for line in sample
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(20)
    {
        total += 1;
        if parse_line(line, &ctx, Location::default()).is_ok() {
            hit += 1;
        }
    }
    if hit == 0 {
        0
    } else if hit * 2 >= total {
        85
    } else {
        50
    }
}

/// Decodes access logs, one request per line.
#[derive(Debug, Default)]
pub struct AccessDecoder;

impl AccessDecoder {
    pub fn new() -> Self {
        AccessDecoder
    }
}

impl Decoder for AccessDecoder {
    fn format(&self) -> Format {
        Format::Access
    }

    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        for_each_line(data, ctx, |line, loc| match parse_line(line, ctx, loc) {
            Ok(ev) => sink.event(ev),
            Err(r) => sink.reject(r),
        });
    }
}

/// What a line that is not an access-log line looks like, for the reject.
fn what_it_is(line: &str) -> &'static str {
    let b = line.as_bytes();
    if line.starts_with('[') && line.contains("] [") {
        "an Apache error-log line (`[date] [level] …`), not an access-log line"
    } else if b.len() > 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'/'
        && line
            .get(19..)
            .is_some_and(|r| r.trim_start().starts_with('['))
    {
        "an nginx error-log line (`yyyy/mm/dd hh:mm:ss [level] …`), not an access-log line"
    } else {
        "not an access-log line: expected `client ident user [time] \"request\" status bytes`"
    }
}

/// Parses one access-log line.
// `Reject` is the workspace's error type; rejects are the rare path.
#[allow(clippy::result_large_err)]
pub fn parse_line(line: &[u8], ctx: &DecodeContext, loc: Location) -> Result<Event, Reject> {
    let text = String::from_utf8_lossy(line);
    parse_text(&text).map_err(|(field, reason)| {
        let r = Reject::new(ctx, loc, reason).raw(line);
        if field.is_empty() {
            r
        } else {
            r.field(field)
        }
    })
}

/// Undoes Apache's `\"` and `\\`; other escapes (`\x03`, nginx's `\x22`)
/// stay as the server wrote them: they are evidence.
fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains("\\\"") && !raw.contains("\\\\") {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut it = raw.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.clone().next() {
                Some(n @ ('"' | '\\')) => {
                    it.next();
                    out.push(n);
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A quoted field with backslash escapes: its unescaped content and the
/// rest after the closing quote.
fn quoted(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let body = s.strip_prefix('"')?;
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((unescape(&body[..i]), &body[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// The request field: up to the quote that is followed by ` <status> `.
/// Found this way rather than by escapes alone, since servers that do not
/// escape quotes (or attackers who send `"` in the URI) leave stray ones.
fn request_field(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let body = s.strip_prefix('"')?;
    let b = body.as_bytes();
    for (i, _) in body.match_indices('"') {
        if i > 0 && b[i - 1] == b'\\' && !(i > 1 && b[i - 2] == b'\\') {
            continue;
        }
        let rest = &body[i + 1..];
        let Some(r) = rest.strip_prefix(' ') else {
            continue;
        };
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if (n == 3 && matches!(r.as_bytes().get(3), None | Some(b' ')))
            || r.starts_with("- ")
            || r == "-"
        {
            return Some((unescape(&body[..i]), rest));
        }
    }
    None
}

fn parse_text(text: &str) -> Result<Event, Fault> {
    let Some(open) = text.find(" [") else {
        return Err(("", what_it_is(text).into()));
    };
    let head: Vec<&str> = text[..open].split(' ').collect();
    let (vhost, client, ident, user) = match head.as_slice() {
        [c, i, u] => (None, *c, *i, *u),
        [v, c, i, u] => (Some(*v), *c, *i, *u),
        _ => return Err(("", what_it_is(text).into())),
    };
    if client.is_empty() || client.contains(['[', ']']) {
        return Err(("client", what_it_is(text).into()));
    }
    let after = &text[open + 2..];
    let Some(close) = after.find(']') else {
        return Err(("time", "`[` of the time is not closed by `]`".into()));
    };
    let ts_text = &after[..close];
    let ts = DateTime::parse_from_str(ts_text, "%d/%b/%Y:%H:%M:%S %z")
        .or_else(|_| DateTime::parse_from_str(ts_text, "%d/%b/%Y:%H:%M:%S%.f %z"))
        .map_err(|_| {
            (
                "time",
                format!("`{ts_text}` is not a `dd/Mon/yyyy:hh:mm:ss ±zzzz` time"),
            )
        })?;
    let rest = &after[close + 1..];
    let Some(rest) = rest.strip_prefix(' ') else {
        return Err(("request", "expected a space after the time".into()));
    };
    let Some((request, rest)) = request_field(rest) else {
        return Err((
            "request",
            "expected a quoted request followed by a status code".into(),
        ));
    };
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (status, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let (bytes, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let status_code = match status {
        "-" => None,
        s => Some(
            s.parse::<u16>()
                .map_err(|_| ("status", format!("status `{s}` is not a number")))?,
        ),
    };
    let body_bytes = match bytes {
        "-" | "" => None,
        b => Some(
            b.parse::<u64>()
                .map_err(|_| ("bytes", format!("response size `{b}` is not a number")))?,
        ),
    };

    let mut ev = Event::with_capacity(24);
    ev.timestamp = Some(ts);
    if let Some(v) = vhost {
        match v.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => {
                ev.push("destination.domain", h);
                if let Ok(p) = p.parse::<u16>() {
                    ev.push(ecs::DESTINATION_PORT, p);
                }
            }
            _ => ev.push("destination.domain", v),
        }
    }
    match client.parse::<IpAddr>() {
        Ok(ip) => ev.push(ecs::SOURCE_IP, ip),
        Err(_) => ev.push("source.domain", client),
    }
    ev.push("source.address", client);
    if ident != "-" {
        ev.push("access.ident", ident);
    }
    if user != "-" && !user.is_empty() {
        ev.push(ecs::USER_NAME, user);
    }
    push_request(&mut ev, &request);
    if let Some(s) = status_code {
        ev.push(ecs::HTTP_RESPONSE_STATUS_CODE, s);
    }
    if let Some(b) = body_bytes {
        ev.push(ecs::HTTP_RESPONSE_BODY_BYTES, b);
    }

    // combined: "referer" "user-agent"; nginx main: then "x-forwarded-for".
    let mut n = 0;
    while rest.starts_with('"') {
        let Some((v, r)) = quoted(rest) else { break };
        let v = v.as_ref();
        match n {
            0 if v != "-" => ev.push(ecs::HTTP_REQUEST_REFERRER, v),
            1 if v != "-" => ev.push(ecs::USER_AGENT_ORIGINAL, v),
            2 if v != "-" => {
                ev.push("http.request.x_forwarded_for", v);
                if let Some(ip) = v
                    .split(',')
                    .next()
                    .and_then(|f| f.trim().parse::<IpAddr>().ok())
                {
                    ev.push("network.forwarded_ip", ip);
                }
            }
            _ => {}
        }
        n += 1;
        rest = r.strip_prefix(' ').unwrap_or(r);
        if n == 3 {
            break;
        }
    }
    let extra = rest.trim();
    if !extra.is_empty() {
        ev.push("access.extra", extra);
    }

    ev.push(ecs::EVENT_KIND, "event");
    ev.push(ecs::EVENT_CATEGORY, Value::Array(vec![Value::from("web")]));
    ev.push(ecs::EVENT_TYPE, Value::Array(vec![Value::from("access")]));
    if let Some(s) = status_code {
        ev.push(
            ecs::EVENT_OUTCOME,
            if s >= 400 { "failure" } else { "success" },
        );
    }
    ev.push(ecs::EVENT_MODULE, "access");
    Ok(ev)
}

fn is_method(m: &str) -> bool {
    m.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
        && m.len() <= 32
        && m.bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
}

/// `METHOD URI PROTOCOL` into its parts; anything else kept whole in
/// `http.request.original` with whatever parts can be read.
fn push_request(ev: &mut Event, req: &str) {
    let mut parts = req.split(' ');
    let (m, u, p, extra) = (parts.next(), parts.next(), parts.next(), parts.next());
    let standard = matches!(
        (m, u, p, extra),
        (Some(m), Some(u), Some(p), None) if is_method(m) && !u.is_empty() && p.starts_with("HTTP/")
    );
    if !standard {
        ev.push("http.request.original", req);
    }
    let Some(m) = m.filter(|m| is_method(m)) else {
        return;
    };
    ev.push(ecs::HTTP_REQUEST_METHOD, m);
    // The URI runs to the protocol: a request with spaces in its URI (an
    // unescaped exploit) keeps them.
    let rest = &req[m.len()..].trim_start();
    let (uri, proto) = match rest.rsplit_once(' ') {
        Some((u, p)) if p.starts_with("HTTP/") => (u, Some(p)),
        _ => (*rest, None),
    };
    if !uri.is_empty() {
        push_url(ev, uri);
    }
    if let Some(p) = proto {
        ev.push(ecs::HTTP_VERSION, &p[5..]);
    }
}

fn push_url(ev: &mut Event, uri: &str) {
    ev.push(ecs::URL_ORIGINAL, uri);
    let mut path_part = uri;
    for scheme in ["http://", "https://"] {
        if let Some(r) = uri.strip_prefix(scheme) {
            ev.push("url.scheme", &scheme[..scheme.len() - 3]);
            let end = r.find(['/', '?']).unwrap_or(r.len());
            ev.push(ecs::URL_DOMAIN, &r[..end]);
            path_part = &r[end..];
        }
    }
    if !path_part.starts_with('/') {
        return;
    }
    let path_part = path_part.split_once('#').map_or(path_part, |(p, _)| p);
    match path_part.split_once('?') {
        Some((p, q)) => {
            ev.push(ecs::URL_PATH, p);
            ev.push(ecs::URL_QUERY, q);
        }
        None => ev.push(ecs::URL_PATH, path_part),
    }
}

/// Writes an event back as a combined-format line (for tests and
/// re-export): the inverse of [`parse_line`] for the fields it fills.
pub fn format_combined(ev: &Event) -> String {
    let g = |k: &str| ev.get(k).and_then(Value::to_text);
    let dash = |v: Option<Cow<'_, str>>| v.map_or_else(|| "-".to_owned(), |v| v.into_owned());
    let request = match ev.get_str("http.request.original") {
        Some(r) => r.to_owned(),
        None => format!(
            "{} {} HTTP/{}",
            dash(g(ecs::HTTP_REQUEST_METHOD)),
            dash(g(ecs::URL_ORIGINAL)),
            dash(g(ecs::HTTP_VERSION))
        ),
    };
    let esc = |s: String| s.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "{} {} {} [{}] \"{}\" {} {} \"{}\" \"{}\"",
        dash(g("source.address")),
        dash(g("access.ident")),
        dash(g(ecs::USER_NAME)),
        ev.timestamp
            .map(|t| t.format("%d/%b/%Y:%H:%M:%S %z").to_string())
            .unwrap_or_default(),
        esc(request),
        dash(g(ecs::HTTP_RESPONSE_STATUS_CODE)),
        dash(g(ecs::HTTP_RESPONSE_BODY_BYTES)),
        esc(dash(g(ecs::HTTP_REQUEST_REFERRER))),
        esc(dash(g(ecs::USER_AGENT_ORIGINAL))),
    )
}
