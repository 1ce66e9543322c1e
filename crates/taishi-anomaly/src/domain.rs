//! Domain-name helpers shared by the DNS detectors (public suffix list via
//! the `psl` crate, which compiles Mozilla's list into code).

/// Longest name accepted, in bytes. A wire name is at most 255 octets, but
/// logs print it escaped (`\xNN`, `\DDD`) or with U+FFFD for raw bytes, so
/// the printed form can be up to four times longer; tunnels live exactly
/// there, so the limit is on the printed form.
pub const MAX_NAME: usize = 1024;

/// Lower-cased name without a trailing dot, or None when empty or too long.
/// Empty labels are kept: a tunnel's payload bytes can include a printed
/// `.`, and such a name must still be counted under its domain.
pub fn normalize(name: &str) -> Option<String> {
    let n = name.trim().trim_end_matches('.');
    if n.is_empty() || n.len() > MAX_NAME {
        return None;
    }
    Some(n.to_ascii_lowercase())
}

/// The registrable domain (eTLD+1) of a normalised name, e.g.
/// `a.b.example.com.cn` → `example.com.cn`. Names that are themselves a
/// public suffix, or whose suffix is unknown to the list, fall back to the
/// last two labels so that every name has a key to count under.
pub fn registered(name: &str) -> &str {
    if let Some(d) = psl::domain_str(name) {
        return d;
    }
    let mut dots = name.rmatch_indices('.');
    dots.next();
    match dots.next() {
        Some((i, _)) => &name[i + 1..],
        None => name,
    }
}

/// The part of `name` left of its registered domain (`""` when none).
pub fn subdomain<'a>(name: &'a str, registered: &str) -> &'a str {
    if name.len() > registered.len() + 1 && name.ends_with(registered) {
        &name[..name.len() - registered.len() - 1]
    } else {
        ""
    }
}

/// Whether `name` is `suffix` or a subdomain of it, ignoring ASCII case.
pub fn is_within(name: &str, suffix: &str) -> bool {
    let (n, s) = (name.as_bytes(), suffix.trim_end_matches('.').as_bytes());
    if n.len() < s.len() || !n[n.len() - s.len()..].eq_ignore_ascii_case(s) {
        return false;
    }
    n.len() == s.len() || n[n.len() - s.len() - 1] == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_domains() {
        assert_eq!(registered("a.b.example.com.cn"), "example.com.cn");
        assert_eq!(registered("www.google.com"), "google.com");
        assert_eq!(registered("q.hidemyself.org"), "hidemyself.org");
        assert_eq!(subdomain("x.y.hidemyself.org", "hidemyself.org"), "x.y");
        assert_eq!(subdomain("hidemyself.org", "hidemyself.org"), "");
        assert!(is_within("a.windowsupdate.com", "windowsupdate.com"));
        assert!(!is_within("evilwindowsupdate.com", "windowsupdate.com"));
        assert!(is_within("A.WindowsUpdate.com", "windowsupdate.com"));
        assert!(!is_within("com", "windowsupdate.com"));
        assert_eq!(
            normalize("WWW.Example.COM."),
            Some("www.example.com".into())
        );
        assert_eq!(normalize("."), None);
    }
}
