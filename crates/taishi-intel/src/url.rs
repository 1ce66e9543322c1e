//! URL normalisation (RFC 3986 §6.2.2 plus the habits of feeds): indicator
//! URLs and event URLs are brought to one form before comparison.
//!
//! - scheme and host lower-cased, a trailing dot on the host dropped;
//! - user information dropped, the scheme's default port dropped;
//! - percent-escapes of unreserved characters decoded, the rest upper-cased;
//! - `.` and `..` segments removed, an empty path written `/`;
//! - the fragment dropped (it never leaves the browser);
//! - a URL without a scheme (`evil.example/x`, common in MISP) read as `http`.
//!
//! Written here rather than with the `url` crate: that crate's IDNA support
//! pulls in the ICU4X tables, and what we need is a comparison key, not a
//! WHATWG parser.

/// The normalised form, or None when there is no host.
pub fn normalise_url(input: &str) -> Option<String> {
    let s = input.trim();
    let (scheme, rest) = match split_scheme(s) {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("http".to_string(), s),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let hostport = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let (host, port) = split_port(hostport)?;
    let host = host.trim_end_matches('.').to_lowercase();
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let tail = match tail.find('#') {
        Some(h) => &tail[..h],
        None => tail,
    };
    let (path, query) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    let mut out = String::with_capacity(s.len() + 1);
    out.push_str(&scheme);
    out.push_str("://");
    out.push_str(&host);
    if let Some(port) = port {
        let default = matches!(
            (scheme.as_str(), port),
            ("http", "80") | ("https", "443") | ("ftp", "21") | ("ws", "80") | ("wss", "443")
        );
        if !default && !port.is_empty() {
            out.push(':');
            out.push_str(port);
        }
    }
    let path = percent_normalise(path);
    if path.is_empty() {
        out.push('/');
    } else {
        remove_dot_segments(&path, &mut out);
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(&percent_normalise(q));
    }
    Some(out)
}

fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let i = s.find("://")?;
    let scheme = &s[..i];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    if first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        Some((scheme, &s[i + 3..]))
    } else {
        None
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_port(hp: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = hp.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = &hp[..close + 2];
        let after = &rest[close + 1..];
        return match after.strip_prefix(':') {
            Some(p) => valid_port(p).then_some((host, Some(p))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match hp.rsplit_once(':') {
        Some((h, p)) => valid_port(p).then_some((h, Some(p))),
        None => Some((hp, None)),
    }
}

fn valid_port(p: &str) -> bool {
    p.is_empty() || (p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn percent_normalise(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let (h, l) = (b[i + 1], b[i + 2]);
            if let (Some(hv), Some(lv)) = (hex_val(h), hex_val(l)) {
                let v = hv * 16 + lv;
                if is_unreserved(v) {
                    out.push(v as char);
                } else {
                    out.push('%');
                    out.push(h.to_ascii_uppercase() as char);
                    out.push(l.to_ascii_uppercase() as char);
                }
                i += 3;
                continue;
            }
        }
        // Copy the whole UTF-8 character starting here.
        let ch_len = utf8_len(b[i]);
        let end = (i + ch_len).min(b.len());
        out.push_str(s.get(i..end).unwrap_or(""));
        i = end.max(i + 1);
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 §5.2.4 over a path already known to start at the authority's end.
fn remove_dot_segments(path: &str, out: &mut String) {
    let mut segs: Vec<&str> = Vec::new();
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    for seg in path.split('/').skip(usize::from(path.starts_with('/'))) {
        match seg {
            "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    // A trailing "/" splits into an empty last segment; keep the slash once.
    if trailing && segs.last() == Some(&"") {
        segs.pop();
    }
    out.push('/');
    out.push_str(&segs.join("/"));
    if trailing && !segs.is_empty() {
        out.push('/');
    }
}

/// The host of a URL as written (not lower-cased), found without
/// allocating: the matcher's prefilter.
pub fn url_host(s: &str) -> Option<&str> {
    let rest = match s.find("://") {
        Some(i) => &s[i + 3..],
        None => s,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hp = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let host = if hp.starts_with('[') {
        &hp[..hp.find(']').map_or(hp.len(), |c| c + 1)]
    } else {
        match hp.rfind(':') {
            Some(c) => &hp[..c],
            None => hp,
        }
    };
    let host = host.trim_end_matches('.');
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        let cases = [
            (
                "HTTP://Evil.EXAMPLE:80/a/./b/../c?x=%7e#frag",
                "http://evil.example/a/c?x=~",
            ),
            ("https://evil.example:443", "https://evil.example/"),
            (
                "https://user:pw@evil.example:8443/%7Euser/%2f",
                "https://evil.example:8443/~user/%2F",
            ),
            ("evil.example/path", "http://evil.example/path"),
            (
                "http://[2001:DB8::1]:8080/x/",
                "http://[2001:db8::1]:8080/x/",
            ),
            (
                "http://176.65.139.212/eclipse.sh4",
                "http://176.65.139.212/eclipse.sh4",
            ),
            ("http://evil.example./a/..", "http://evil.example/"),
        ];
        for (i, o) in cases {
            assert_eq!(normalise_url(i).as_deref(), Some(o), "{i}");
        }
        assert_eq!(normalise_url("http:///x"), None);
        assert_eq!(normalise_url("http://a b/"), None);
    }

    #[test]
    fn host_without_allocation() {
        assert_eq!(url_host("http://u@Evil.Example:81/x"), Some("Evil.Example"));
        assert_eq!(url_host("https://[::1]:443/"), Some("[::1]"));
        assert_eq!(url_host("evil.example"), Some("evil.example"));
    }
}
