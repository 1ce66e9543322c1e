//! One audit record: `[node=N ]type=T msg=audit(SECS.MILLIS:SERIAL): k=v …`
//! parsed into its header and an ordered list of key/values.

use std::net::{Ipv4Addr, Ipv6Addr};

use taishi_event::Str;

/// The identity of the event a record belongs to: records with the same
/// node, timestamp and serial are one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventKey {
    pub node: Option<Str>,
    pub secs: i64,
    pub millis: u32,
    pub serial: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub rtype: Str,
    /// Key/values in source order. Values are already unquoted, hex-decoded
    /// where auditd hex-encodes them, and `?`/`(null)`/empty are left out.
    /// The enriched part (after `\x1d`, upper-case keys such as `UID`) is
    /// appended to the same list: its keys never clash with the raw ones.
    pub fields: Vec<(Str, Str)>,
}

impl Record {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub key: EventKey,
    pub rtype: &'a str,
    pub body: &'a str,
}

/// Splits the header off a record line. The line may carry a prefix before
/// `node=`/`type=` (a syslog header when audisp forwards to syslog).
pub(crate) fn parse_header(line: &str) -> Result<Header<'_>, &'static str> {
    let start = if line.starts_with("type=") || line.starts_with("node=") {
        0
    } else {
        match line.find(" node=").or_else(|| line.find(" type=")) {
            Some(i) => i + 1,
            None => return Err("no `type=` field: not an audit record"),
        }
    };
    let mut rest = &line[start..];
    let mut node = None;
    if let Some(r) = rest.strip_prefix("node=") {
        let end = r.find(' ').ok_or("`node=` without a following `type=`")?;
        node = Some(Str::from(&r[..end]));
        rest = r[end..].trim_start();
    }
    let r = rest
        .strip_prefix("type=")
        .ok_or("no `type=` field: not an audit record")?;
    let end = r.find(' ').ok_or("no `msg=audit(` header")?;
    let rtype = &r[..end];
    let r = r[end..].trim_start();
    let r = r
        .strip_prefix("msg=audit(")
        .ok_or("no `msg=audit(…)` header")?;
    let close = r.find(')').ok_or("unterminated `msg=audit(` header")?;
    let (ts, serial) = r[..close]
        .split_once(':')
        .ok_or("`msg=audit(` header without `:serial`")?;
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().map_err(|_| "bad timestamp in `msg=audit(`")?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err("bad timestamp fraction in `msg=audit(`");
    }
    // Auditd writes milliseconds; scale whatever precision we got.
    let mut millis: u32 = frac.parse().map_err(|_| "bad timestamp in `msg=audit(`")?;
    for _ in frac.len()..3 {
        millis *= 10;
    }
    for _ in 3..frac.len() {
        millis /= 10;
    }
    let serial: u64 = serial.parse().map_err(|_| "bad serial in `msg=audit(`")?;
    // Most records have `): `, a few old daemon ones only `) `.
    let body = r[close + 1..].strip_prefix(':').unwrap_or(&r[close + 1..]);
    Ok(Header {
        key: EventKey {
            node,
            secs,
            millis,
            serial,
        },
        rtype,
        body,
    })
}

/// Fields whose values auditd hex-encodes when they hold a space, a quote or
/// a control character (it marks them by leaving the value unquoted). Kept
/// sorted for the binary search.
const ENCODED: &[&str] = &[
    "acct",
    "cmd",
    "comm",
    "cwd",
    "data",
    "dir",
    "exe",
    "file",
    "grp",
    "key",
    "name",
    "new",
    "new-chardev",
    "new-disk",
    "new-fs",
    "new-net",
    "new-rng",
    "new_group",
    "ocomm",
    "old",
    "old-chardev",
    "old-disk",
    "old-fs",
    "old-net",
    "old-rng",
    "old_group",
    "path",
    "proctitle",
    "root_dir",
    "sw",
    "vm",
    "watch",
];

fn is_encoded_field(rtype: &str, key: &str) -> bool {
    if ENCODED.binary_search(&key).is_ok() {
        return true;
    }
    // EXECVE arguments `a0`, `a1` …; chunked ones (`a1[0]`) are joined later.
    rtype == "EXECVE"
        && key.len() > 1
        && key.as_bytes()[0] == b'a'
        && key[1..].bytes().all(|b| b.is_ascii_digit())
}

fn is_hex(s: &str) -> bool {
    s.len() >= 2 && s.len() & 1 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if s.len() & 1 != 0 {
        return None;
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks_exact(2) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out.push((hi * 16 + lo) as u8);
    }
    Some(out)
}

/// Decoded hex as text: trailing NULs dropped, inner NULs (argv separators
/// in `proctitle`) shown as spaces. `key` keeps its `\x01` separators so
/// that several rule keys can be split apart.
pub(crate) fn hex_text(s: &str) -> Option<Str> {
    let mut bytes = hex_bytes(s)?;
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    for b in &mut bytes {
        if *b == 0 {
            *b = b' ';
        }
    }
    Some(Str::from(String::from_utf8_lossy(&bytes)))
}

/// Parses the key/values of a record body into `out`.
pub(crate) fn parse_fields(rtype: &str, body: &str, out: &mut Vec<(Str, Str)>) {
    let b = body.as_bytes();
    let mut i = 0;
    // A bare `old`/`new` word (old-style LOGIN records: `old auid=… new
    // auid=…`) prefixes the key that follows.
    let mut prefix: Option<&str> = None;
    while i < b.len() {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b',' | b'(' | b')' | 0x1d) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'{' {
            // SELinux AVC permissions: `{ read write }`.
            let end = body[i..].find('}').map_or(b.len(), |e| i + e);
            let perms = body[i + 1..end].split_whitespace().collect::<Vec<_>>();
            if !perms.is_empty() {
                out.push(("seperms".into(), Str::from(perms.join(","))));
            }
            i = (end + 1).min(b.len());
            continue;
        }
        let tok_start = i;
        while i < b.len() && !matches!(b[i], b'=' | b' ' | b'\t' | 0x1d) {
            i += 1;
        }
        let key = &body[tok_start..i];
        if i >= b.len() || b[i] != b'=' {
            match key {
                "old" | "new" => prefix = Some(key),
                "denied" | "granted" if rtype == "AVC" || rtype == "USER_AVC" => {
                    out.push(("seresult".into(), key.into()));
                }
                _ => prefix = None,
            }
            continue;
        }
        i += 1; // '='
        let (raw, quoted) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let end = body[i + 1..].find(q as char).map_or(b.len(), |e| i + 1 + e);
                let v = &body[i + 1..end];
                i = (end + 1).min(b.len());
                if q == b'\'' && key == "msg" {
                    // USER_* records nest their own key/values in msg='…'.
                    parse_fields(rtype, v, out);
                    prefix = None;
                    continue;
                }
                (v, true)
            }
            _ => {
                let s = i;
                while i < b.len() && !matches!(b[i], b' ' | b'\t' | 0x1d) {
                    i += 1;
                }
                let mut v = body[s..i].trim_end_matches(',');
                // `(hostname=?, … res=success)`: drop the closing paren of
                // the group, not one that belongs to the value (`(none)`).
                if v.ends_with(')') && !v.contains('(') {
                    v = &v[..v.len() - 1];
                }
                (v, false)
            }
        };
        let key = key.trim_start_matches('(');
        let name: Str = match prefix.take() {
            Some(p) => compact_str::format_compact!("{p}_{key}"),
            None => Str::from(key),
        };
        if !quoted && (raw.is_empty() || raw == "?" || raw == "(null)") {
            continue;
        }
        if quoted && raw.is_empty() {
            continue;
        }
        if !quoted && key == "saddr" && rtype == "SOCKADDR" {
            push_sockaddr(raw, out);
            out.push((name, raw.into()));
            continue;
        }
        let value = if !quoted && is_encoded_field(rtype, key) && is_hex(raw) {
            hex_text(raw).unwrap_or_else(|| raw.into())
        } else {
            Str::from(raw)
        };
        if value.is_empty() {
            continue;
        }
        out.push((name, value));
    }
}

/// Decodes a hex `struct sockaddr` into `family`, `addr`, `port`, `path`
/// (the names go-libaudit gives them).
fn push_sockaddr(hex: &str, out: &mut Vec<(Str, Str)>) {
    let Some(b) = hex_bytes(hex) else { return };
    if b.len() < 2 {
        return;
    }
    // sa_family is in host byte order; audit logs come from little-endian
    // hosts in practice (x86, arm64).
    let family = u16::from_le_bytes([b[0], b[1]]);
    let port = |b: &[u8]| b.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]]));
    match family {
        1 => {
            out.push(("family".into(), "unix".into()));
            let path = &b[2..];
            // An abstract socket starts with NUL; show it with a leading @.
            let (abstract_ns, path) = match path.split_first() {
                Some((0, rest)) => (true, rest),
                _ => (false, path),
            };
            let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
            let p = String::from_utf8_lossy(&path[..end]);
            if !p.is_empty() {
                let p = if abstract_ns {
                    format!("@{p}")
                } else {
                    p.into_owned()
                };
                out.push(("path".into(), Str::from(p)));
            }
        }
        2 => {
            out.push(("family".into(), "ipv4".into()));
            if let (Some(port), Some(a)) = (port(&b), b.get(4..8)) {
                out.push(("addr".into(), ip_str(Ipv4Addr::new(a[0], a[1], a[2], a[3]))));
                out.push(("port".into(), Str::from(port.to_string())));
            }
        }
        10 => {
            out.push(("family".into(), "ipv6".into()));
            if let (Some(port), Some(a)) = (port(&b), b.get(8..24)) {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(a);
                out.push(("addr".into(), ip_str(Ipv6Addr::from(octets))));
                out.push(("port".into(), Str::from(port.to_string())));
            }
        }
        16 => out.push(("family".into(), "netlink".into())),
        other => out.push(("family".into(), Str::from(other.to_string()))),
    }
}

fn ip_str(ip: impl std::fmt::Display) -> Str {
    compact_str::format_compact!("{ip}")
}

/// Record types that make a whole event on their own (user-space messages,
/// 1100–1299 and 2100–2999 in `linux/audit.h`): nothing follows them and no
/// EOE closes them, so they are emitted at once.
pub(crate) fn is_standalone(rtype: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "USER_",
        "CRED_",
        "CRYPTO_",
        "DAEMON_",
        "VIRT_",
        "RESP_",
        "ROLE_",
        "GRP_",
        "SERVICE_",
        "SYSTEM_",
        "LABEL_",
        "ACCT_",
        "ANOM_LOGIN",
        "ANOM_ADD",
        "ANOM_DEL",
        "ANOM_MOD",
        "ANOM_ROOT",
        "ANOM_EXEC",
        "ANOM_MAX",
        "ANOM_AMTU",
        "ANOM_RBAC",
        "ANOM_CRYPTO",
    ];
    const EXACT: &[&str] = &[
        "ADD_USER",
        "DEL_USER",
        "ADD_GROUP",
        "DEL_GROUP",
        "CHGRP_ID",
        "CHUSER_ID",
        "DAC_CHECK",
        "TRUSTED_APP",
        "USYS_CONFIG",
        "SOFTWARE_UPDATE",
        "TEST",
        "AVC_PATH",
    ];
    PREFIXES.iter().any(|p| rtype.starts_with(p)) || EXACT.contains(&rtype)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_list_is_sorted() {
        let mut s = ENCODED.to_vec();
        s.sort_unstable();
        assert_eq!(s, ENCODED);
    }

    #[test]
    fn header_variants() {
        let h =
            parse_header("node=web1 type=SYSCALL msg=audit(1490137971.011:50406): arch=c000003e")
                .unwrap();
        assert_eq!(h.key.node.as_deref(), Some("web1"));
        assert_eq!(
            (h.key.secs, h.key.millis, h.key.serial),
            (1490137971, 11, 50406)
        );
        assert_eq!(h.rtype, "SYSCALL");
        assert_eq!(h.body.trim(), "arch=c000003e");
        let h =
            parse_header("type=DAEMON_CONFIG msg=audit(1490239800.477:34) config changed, auid=0")
                .unwrap();
        assert_eq!(h.body.trim(), "config changed, auid=0");
        assert!(parse_header("type=UNKNOWN[1329] msg=?").is_err());
        assert!(parse_header("hello world").is_err());
    }

    #[test]
    fn sockaddr_families() {
        let mut out = Vec::new();
        push_sockaddr("02000050A9FEA9FE0000000000000000", &mut out);
        assert_eq!(
            out,
            vec![
                ("family".into(), "ipv4".into()),
                ("addr".into(), "169.254.169.254".into()),
                ("port".into(), "80".into())
            ]
        );
    }
}
