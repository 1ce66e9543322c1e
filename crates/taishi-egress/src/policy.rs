//! The policy (`[egress]` in `taishi.toml`) and its checks.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};

use crate::{classify, EgressError};

/// Most addresses kept from one name (as ureq's resolver); a name with
/// more is cut, the ones kept all checked.
pub const MAX_ADDRS: usize = 16;
/// Most `allow` entries: a list past this is a mistake (or an attempt to
/// make every check slow), not a network plan.
pub const MAX_ALLOW: usize = 4096;
/// Longest URL checked (the limit most browsers and servers use too).
pub const MAX_URL: usize = 8192;

/// Where outgoing fetches may go.
///
/// ```toml
/// [egress]
/// allow_private = false                      # the default
/// allow = ["10.20.0.0/16", "misp.corp.example", "*.feeds.corp.example"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EgressPolicy {
    /// Lift the refusal of loopback, RFC 1918, link-local, CGNAT, ULA and
    /// the other ranges an operator's own network uses. Multicast,
    /// broadcast, unspecified, documentation, reserved and the cloud
    /// metadata service stay refused unless listed in `allow`.
    pub allow_private: bool,
    /// Targets allowed whatever their range: a CIDR or single address
    /// (`10.1.2.0/24`, `192.0.2.7`, `fd00::/8`), a host name
    /// (`misp.corp.example`: every address it resolves to is allowed), or a
    /// domain suffix (`*.corp.example`).
    #[serde(deserialize_with = "bounded_allow")]
    pub allow: Vec<AllowEntry>,
}

fn bounded_allow<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<AllowEntry>, D::Error> {
    let v = Vec::<AllowEntry>::deserialize(d)?;
    if v.len() > MAX_ALLOW {
        return Err(serde::de::Error::custom(format!(
            "egress.allow: {} entries, more than {MAX_ALLOW} / 条目超过 {MAX_ALLOW} 个",
            v.len()
        )));
    }
    Ok(v)
}

/// One `allow` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum AllowEntry {
    Net(IpNet),
    /// A host name, lower-case ASCII (IDNA applied).
    Host(String),
    /// `*.corp.example`, kept as `.corp.example`.
    Suffix(String),
}

/// An `allow` entry that is neither a CIDR, an address nor a host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "egress.allow: `{entry}` is not a CIDR, an address or a host name / 不是网段、地址或主机名"
)]
pub struct BadAllowEntry {
    pub entry: String,
}

impl TryFrom<String> for AllowEntry {
    type Error = BadAllowEntry;
    fn try_from(s: String) -> Result<AllowEntry, BadAllowEntry> {
        s.parse()
    }
}

impl std::str::FromStr for AllowEntry {
    type Err = BadAllowEntry;
    fn from_str(s: &str) -> Result<AllowEntry, BadAllowEntry> {
        let bad = || BadAllowEntry {
            entry: s.chars().take(300).collect(),
        };
        let t = s.trim();
        if t.is_empty() || t.len() > 253 {
            return Err(bad());
        }
        if let Ok(n) = t.parse::<IpNet>() {
            return Ok(AllowEntry::Net(n.trunc()));
        }
        if let Ok(ip) = t.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(AllowEntry::Net(IpNet::from(ip)));
        }
        let (wild, name) = match t.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        match url::Host::parse(name) {
            Ok(url::Host::Domain(d)) if !d.contains(['/', ':', '@', '*']) => {
                let d = d.trim_end_matches('.').to_string();
                Ok(if wild {
                    AllowEntry::Suffix(format!(".{d}"))
                } else {
                    AllowEntry::Host(d)
                })
            }
            _ => Err(bad()),
        }
    }
}

impl From<AllowEntry> for String {
    fn from(e: AllowEntry) -> String {
        match e {
            AllowEntry::Net(n) if n.prefix_len() == n.max_prefix_len() => n.addr().to_string(),
            AllowEntry::Net(n) => n.to_string(),
            AllowEntry::Host(h) => h,
            AllowEntry::Suffix(s) => format!("*{s}"),
        }
    }
}

/// A URL that passed [`EgressPolicy::check_url`]: scheme http(s), no
/// userinfo, the host in its IDNA (ASCII) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    url: url::Url,
}

impl CheckedUrl {
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
    /// The host as connected to: ASCII, an IPv6 literal without brackets.
    pub fn host(&self) -> String {
        match self.url.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => String::new(),
        }
    }
    /// The port, the scheme's default when none is given.
    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(80)
    }
    pub fn url(&self) -> &url::Url {
        &self.url
    }
}

/// `host` in the form compared with `allow` names: lower case, no
/// trailing dot, IDNA applied.
fn normalise_host(host: &str) -> String {
    let h = host.trim_end_matches('.');
    match url::Host::parse(h) {
        Ok(url::Host::Domain(d)) => d,
        _ => h.to_ascii_lowercase(),
    }
}

impl EgressPolicy {
    /// The default: private targets refused, nothing allow-listed. A
    /// `static` can point at it.
    pub const DENY_PRIVATE: EgressPolicy = EgressPolicy {
        allow_private: false,
        allow: Vec::new(),
    };

    /// Everything a test receiver on 127.0.0.1 needs.
    pub fn allow_private() -> EgressPolicy {
        EgressPolicy {
            allow_private: true,
            allow: Vec::new(),
        }
    }

    /// Checks a URL before it is fetched: scheme, userinfo, host, and an
    /// IP-literal host's address. A host name's addresses are checked when
    /// they are resolved ([`EgressPolicy::check_addrs`]).
    pub fn check_url(&self, input: &str) -> Result<CheckedUrl, EgressError> {
        let shown = || input.chars().take(300).collect::<String>();
        if input.len() > MAX_URL {
            return Err(EgressError::BadUrl {
                url: shown(),
                reason: format!("longer than {MAX_URL} bytes"),
            });
        }
        let url = url::Url::parse(input).map_err(|e| EgressError::BadUrl {
            url: shown(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EgressError::Scheme {
                url: shown(),
                scheme: url.scheme().chars().take(40).collect(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            // The message leaves the password out: it may be real.
            let mut clean = url.clone();
            let _ = clean.set_username("");
            let _ = clean.set_password(None);
            return Err(EgressError::Userinfo {
                url: clean.to_string(),
            });
        }
        let checked = CheckedUrl { url };
        match checked.url.host() {
            None => {
                return Err(EgressError::NoHost { url: shown() });
            }
            Some(url::Host::Ipv4(a)) => self.check_addr(&checked.host(), IpAddr::V4(a))?,
            Some(url::Host::Ipv6(a)) => self.check_addr(&checked.host(), IpAddr::V6(a))?,
            Some(url::Host::Domain("")) => {
                return Err(EgressError::NoHost { url: shown() });
            }
            Some(url::Host::Domain(_)) => {}
        }
        Ok(checked)
    }

    fn host_allowed(&self, host: &str) -> bool {
        if !self
            .allow
            .iter()
            .any(|e| matches!(e, AllowEntry::Host(_) | AllowEntry::Suffix(_)))
        {
            return false;
        }
        let h = normalise_host(host);
        self.allow.iter().any(|e| match e {
            AllowEntry::Host(n) => *n == h,
            AllowEntry::Suffix(s) => h.ends_with(s.as_str()),
            AllowEntry::Net(_) => false,
        })
    }

    fn addr_allowed(&self, ip: IpAddr) -> bool {
        let canon = ip.to_canonical();
        self.allow.iter().any(|e| match e {
            AllowEntry::Net(n) => n.contains(&ip) || n.contains(&canon),
            _ => false,
        })
    }

    /// Checks one address `host` resolved to (or is).
    pub fn check_addr(&self, host: &str, ip: IpAddr) -> Result<(), EgressError> {
        let Some(category) = classify(ip) else {
            return Ok(());
        };
        if (self.allow_private && category.is_private_like())
            || self.addr_allowed(ip)
            || self.host_allowed(host)
        {
            return Ok(());
        }
        Err(EgressError::Address {
            host: host.chars().take(300).collect(),
            addr: ip,
            category,
        })
    }

    /// Checks every address a name resolved to; one refused address refuses
    /// the name (a name that answers with a public address and 127.0.0.1 is
    /// an attack, not a misconfiguration). Keeps at most [`MAX_ADDRS`].
    pub fn check_addrs(
        &self,
        host: &str,
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, EgressError> {
        let mut out = Vec::new();
        for a in addrs.into_iter().take(MAX_ADDRS) {
            self.check_addr(host, a.ip())?;
            out.push(a);
        }
        if out.is_empty() {
            return Err(EgressError::Resolve {
                host: host.chars().take(300).collect(),
                reason: "no address / 没有地址".into(),
            });
        }
        Ok(out)
    }

    /// Resolves `host` (a name or an address literal, as in an SMTP or
    /// syslog output's `host`) and checks every address. Connect to the
    /// addresses returned, never to `host` again, so the check holds for
    /// the connection.
    pub fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
        if let Some(ip) = literal(host) {
            self.check_addr(host, ip)?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let name = normalise_host(host);
        let addrs = (name.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| EgressError::Resolve {
                host: host.chars().take(300).collect(),
                reason: e.to_string(),
            })?;
        self.check_addrs(host, addrs)
    }

    /// [`EgressPolicy::resolve`] on tokio's resolver.
    #[cfg(feature = "tokio")]
    pub async fn resolve_async(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, EgressError> {
        if let Some(ip) = literal(host) {
            self.check_addr(host, ip)?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let name = normalise_host(host);
        let addrs = tokio::net::lookup_host((name.as_str(), port))
            .await
            .map_err(|e| EgressError::Resolve {
                host: host.chars().take(300).collect(),
                reason: e.to_string(),
            })?;
        self.check_addrs(host, addrs)
    }
}

/// An address literal, IPv6 with or without brackets.
fn literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_entries_parse_and_print() {
        for (s, back) in [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("192.0.2.7", "192.0.2.7"),
            ("[::1]", "::1"),
            ("fd00::/8", "fd00::/8"),
            ("MISP.Corp.Example.", "misp.corp.example"),
            ("*.corp.example", "*.corp.example"),
            ("情报.中国", "xn--feur5b.xn--fiqs8s"),
        ] {
            let e: AllowEntry = s.parse().unwrap();
            assert_eq!(String::from(e), back, "{s}");
        }
        for s in ["", "a b", "http://x/", "user@x", "*", "x:80/y"] {
            assert!(s.parse::<AllowEntry>().is_err(), "{s:?}");
        }
    }

    #[test]
    fn public_looking_targets_pass_without_network() {
        let p = EgressPolicy::default();
        for u in [
            "https://8.8.8.8/feed.csv",
            "http://[2400:3200::1]:8080/x",
            "https://threatfox.abuse.ch/export/json/recent/",
            "https://情报.中国/taxii2/",
        ] {
            let c = p.check_url(u).unwrap();
            assert!(!c.host().is_empty() && c.port() > 0, "{u}");
        }
        assert_eq!(
            p.check_url("https://情报.中国/").unwrap().host(),
            "xn--feur5b.xn--fiqs8s"
        );
        assert!(p.check_addr("x", "1.1.1.1".parse().unwrap()).is_ok());
        assert!(p
            .check_addr("x", "2001:4860::8888".parse().unwrap())
            .is_ok());
    }

    #[test]
    fn literal_tricks_are_normalised_then_refused() {
        let p = EgressPolicy::default();
        for u in [
            "http://127.1/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://017700000001/",
            "http://[::ffff:7f00:1]/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://100.100.100.200/",
            "http://[fd00:ec2::254]/",
            "http://192.168.1.1./",
        ] {
            assert!(
                matches!(p.check_url(u), Err(EgressError::Address { .. })),
                "{u}"
            );
        }
        let e = p.check_url("http://admin:s3cret@example.org/").unwrap_err();
        assert!(matches!(e, EgressError::Userinfo { .. }));
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn allow_private_does_not_lift_metadata_but_allow_does() {
        let meta: IpAddr = "169.254.169.254".parse().unwrap();
        assert!(EgressPolicy::allow_private().check_addr("m", meta).is_err());
        let p = EgressPolicy {
            allow_private: false,
            allow: vec!["169.254.169.254".parse().unwrap()],
        };
        assert!(p.check_addr("m", meta).is_ok());
        // An IPv4-mapped form matches an IPv4 entry.
        assert!(p
            .check_addr("m", "::ffff:169.254.169.254".parse().unwrap())
            .is_ok());
    }

    #[test]
    fn config_round_trips_and_bounds_the_list() {
        #[derive(Deserialize)]
        struct C {
            egress: EgressPolicy,
        }
        let j = r#"{"egress": {"allow_private": true, "allow": ["10.0.0.0/8", "*.corp.example"]}}"#;
        let c: C = serde_json::from_str(j).unwrap();
        assert!(c.egress.allow_private);
        assert_eq!(c.egress.allow.len(), 2);
        let many: Vec<String> = (0..=MAX_ALLOW)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        let j = serde_json::json!({"egress": {"allow": many}}).to_string();
        assert!(serde_json::from_str::<C>(&j).is_err());
        assert!(serde_json::from_str::<C>(r#"{"egress": {"allow": ["not a host!"]}}"#).is_err());
    }

    #[test]
    fn suffix_matches_subdomains_only() {
        let p = EgressPolicy {
            allow_private: false,
            allow: vec!["*.corp.example".parse().unwrap()],
        };
        let lo: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(p.check_addr("a.corp.example", lo).is_ok());
        assert!(p.check_addr("A.Corp.Example.", lo).is_ok());
        assert!(p.check_addr("corp.example", lo).is_err());
        assert!(p.check_addr("evilcorp.example", lo).is_err());
    }
}
