//! Which special-purpose range an address falls in (`data/ranges.txt`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use ipnet::IpNet;

/// A special-purpose range's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Loopback,
    /// RFC 1918, and local-use NAT64.
    Private,
    LinkLocal,
    /// RFC 6598 shared address space (carrier-grade NAT).
    Shared,
    /// RFC 4193 unique local IPv6 (fc00::/7).
    UniqueLocal,
    /// Deprecated IPv6 site-local (fec0::/10).
    SiteLocal,
    Benchmarking,
    IetfProtocol,
    Unspecified,
    /// 0.0.0.0/8: "this network"; Linux connects 0.x to the local host.
    ThisNetwork,
    Multicast,
    Broadcast,
    Documentation,
    Reserved,
    /// The instance metadata service of the cloud the server runs in
    /// (credentials live there).
    CloudMetadata,
    Discard,
}

impl Category {
    fn parse(s: &str) -> Option<Category> {
        use Category::*;
        Some(match s {
            "loopback" => Loopback,
            "private" => Private,
            "link-local" => LinkLocal,
            "shared" => Shared,
            "unique-local" => UniqueLocal,
            "site-local" => SiteLocal,
            "benchmarking" => Benchmarking,
            "ietf-protocol" => IetfProtocol,
            "unspecified" => Unspecified,
            "this-network" => ThisNetwork,
            "multicast" => Multicast,
            "broadcast" => Broadcast,
            "documentation" => Documentation,
            "reserved" => Reserved,
            "cloud-metadata" => CloudMetadata,
            "discard" => Discard,
            _ => return None,
        })
    }

    /// The name used in `data/ranges.txt` and in messages.
    pub fn name(self) -> &'static str {
        use Category::*;
        match self {
            Loopback => "loopback",
            Private => "private",
            LinkLocal => "link-local",
            Shared => "shared",
            UniqueLocal => "unique-local",
            SiteLocal => "site-local",
            Benchmarking => "benchmarking",
            IetfProtocol => "ietf-protocol",
            Unspecified => "unspecified",
            ThisNetwork => "this-network",
            Multicast => "multicast",
            Broadcast => "broadcast",
            Documentation => "documentation",
            Reserved => "reserved",
            CloudMetadata => "cloud-metadata",
            Discard => "discard",
        }
    }

    /// What the range is, for people.
    pub fn label(self, lang: crate::Lang) -> &'static str {
        use crate::Lang::*;
        use Category::*;
        match (self, lang) {
            (Loopback, En) => "loopback",
            (Loopback, ZhCn) => "环回地址",
            (Private, En) => "private network (RFC 1918)",
            (Private, ZhCn) => "私有网络地址（RFC 1918）",
            (LinkLocal, En) => "link-local",
            (LinkLocal, ZhCn) => "链路本地地址",
            (Shared, En) => "shared/carrier-grade NAT (100.64.0.0/10)",
            (Shared, ZhCn) => "运营商级 NAT 共享地址（100.64.0.0/10）",
            (UniqueLocal, En) => "unique local IPv6 (fc00::/7)",
            (UniqueLocal, ZhCn) => "IPv6 唯一本地地址（fc00::/7）",
            (SiteLocal, En) => "IPv6 site-local",
            (SiteLocal, ZhCn) => "IPv6 站点本地地址",
            (Benchmarking, En) => "benchmarking",
            (Benchmarking, ZhCn) => "基准测试地址",
            (IetfProtocol, En) => "IETF protocol assignment",
            (IetfProtocol, ZhCn) => "IETF 协议专用地址",
            (Unspecified, En) => "unspecified",
            (Unspecified, ZhCn) => "未指定地址",
            (ThisNetwork, En) => "\"this network\" (0.0.0.0/8)",
            (ThisNetwork, ZhCn) => "本网络地址（0.0.0.0/8）",
            (Multicast, En) => "multicast",
            (Multicast, ZhCn) => "组播地址",
            (Broadcast, En) => "broadcast",
            (Broadcast, ZhCn) => "广播地址",
            (Documentation, En) => "documentation",
            (Documentation, ZhCn) => "文档示例地址",
            (Reserved, En) => "reserved",
            (Reserved, ZhCn) => "保留地址",
            (CloudMetadata, En) => "cloud metadata service",
            (CloudMetadata, ZhCn) => "云实例元数据服务",
            (Discard, En) => "discard-only",
            (Discard, ZhCn) => "丢弃专用地址",
        }
    }

    /// Ranges an operator's own network uses: `allow_private = true` lifts
    /// them. The rest are never a legitimate feed or receiver (or, for the
    /// metadata service, too dangerous), so only an explicit `allow` CIDR
    /// does.
    pub fn is_private_like(self) -> bool {
        use Category::*;
        matches!(
            self,
            Loopback
                | Private
                | LinkLocal
                | Shared
                | UniqueLocal
                | SiteLocal
                | Benchmarking
                | IetfProtocol
        )
    }
}

const RANGES: &str = include_str!("../data/ranges.txt");

/// The table, most specific range first (so the first hit is the longest
/// prefix).
fn table() -> &'static [(IpNet, Category)] {
    static T: OnceLock<Vec<(IpNet, Category)>> = OnceLock::new();
    T.get_or_init(|| {
        let mut t: Vec<(IpNet, Category)> = RANGES
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (net, cat) = l.split_once(' ').unwrap_or((l, ""));
                // The file is part of the crate; a test parses every line,
                // so a bad line fails the build's tests, not a server.
                let net: IpNet = net.parse().expect("data/ranges.txt: bad CIDR");
                let cat = Category::parse(cat.trim()).expect("data/ranges.txt: bad category");
                (net, cat)
            })
            .collect();
        t.sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix_len()));
        t
    })
}

fn lookup(ip: IpAddr) -> Option<Category> {
    table()
        .iter()
        .find(|(n, _)| n.contains(&ip))
        .map(|&(_, c)| c)
}

/// The IPv4 address an IPv6 address carries, for the forms a client or the
/// kernel turns into an IPv4 connection: IPv4-mapped, IPv4-compatible
/// (deprecated, but still routed by some stacks), NAT64 well-known prefix
/// and 6to4.
pub(crate) fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        // `::` and `::1` are themselves in the table.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, a, b, ..] => Some(Ipv4Addr::new(
            (a >> 8) as u8,
            a as u8,
            (b >> 8) as u8,
            b as u8,
        )),
        _ => None,
    }
}

/// The special-purpose range `ip` is in, if any (`None`: a global
/// address). An IPv6 address carrying an IPv4 one is classified by the
/// IPv4 address when that one is special.
pub fn classify(ip: IpAddr) -> Option<Category> {
    if let IpAddr::V6(v6) = ip {
        if let Some(c) = embedded_v4(v6).and_then(|v4| lookup(IpAddr::V4(v4))) {
            return Some(c);
        }
    }
    lookup(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses() {
        assert!(table().len() > 30);
    }

    #[test]
    fn most_specific_wins() {
        let c = |s: &str| classify(s.parse().unwrap());
        assert_eq!(c("169.254.169.254"), Some(Category::CloudMetadata));
        assert_eq!(c("169.254.1.1"), Some(Category::LinkLocal));
        assert_eq!(c("0.0.0.0"), Some(Category::Unspecified));
        assert_eq!(c("0.1.2.3"), Some(Category::ThisNetwork));
        assert_eq!(c("100.100.100.200"), Some(Category::CloudMetadata));
        assert_eq!(c("100.64.0.1"), Some(Category::Shared));
        assert_eq!(c("8.8.8.8"), None);
        assert_eq!(c("2400:3200::1"), None);
    }

    #[test]
    fn ipv6_forms_of_ipv4_ranges() {
        let c = |s: &str| classify(s.parse().unwrap());
        assert_eq!(c("::ffff:127.0.0.1"), Some(Category::Loopback));
        assert_eq!(c("::ffff:169.254.169.254"), Some(Category::CloudMetadata));
        assert_eq!(c("::127.0.0.1"), Some(Category::Loopback));
        assert_eq!(c("::10.0.0.1"), Some(Category::Private));
        assert_eq!(c("64:ff9b::a00:1"), Some(Category::Private));
        assert_eq!(c("2002:7f00:1::"), Some(Category::Loopback));
        assert_eq!(c("::ffff:8.8.8.8"), None);
        assert_eq!(c("::1"), Some(Category::Loopback));
        assert_eq!(c("::"), Some(Category::Unspecified));
    }
}
