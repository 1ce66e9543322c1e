//! An incident's observables as block lists for common devices (issue 14,
//! response actions): an nftables set, an ipset restore file, iptables
//! commands, Suricata rules and plain lists.
//!
//! Only values that parse are written: an address must parse as IPv4 or
//! IPv6, a domain must be letters, digits, `-`, `_` and dots, a hash hex of
//! an MD5, SHA-1 or SHA-256 length. Anything else is left out and counted,
//! never copied into a rule where it could break or extend it. Internal
//! addresses (loopback, private, link-local, multicast, unspecified,
//! unique-local) are left out too: the alerts name the organisation's own
//! hosts as often as the attacker's, and a list that drops them would cut
//! the network off from itself.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::incident::{Incident, ObservableKind};

/// The block-list formats.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlocklistFormat {
    /// `nft -f`: a table with an IPv4 and an IPv6 set and drop rules.
    Nftables,
    /// `ipset restore`: one `hash:ip` set per family.
    Ipset,
    /// `iptables`/`ip6tables` commands, one address each.
    Iptables,
    /// Suricata rules: addresses, and domains on DNS queries and TLS SNI.
    Suricata,
    /// One value a line under a `#` heading per kind (hashes are only here).
    Plain,
}

impl BlocklistFormat {
    pub const ALL: [BlocklistFormat; 5] = [
        BlocklistFormat::Nftables,
        BlocklistFormat::Ipset,
        BlocklistFormat::Iptables,
        BlocklistFormat::Suricata,
        BlocklistFormat::Plain,
    ];

    pub fn parse(s: &str) -> Option<BlocklistFormat> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            BlocklistFormat::Nftables => "nftables",
            BlocklistFormat::Ipset => "ipset",
            BlocklistFormat::Iptables => "iptables",
            BlocklistFormat::Suricata => "suricata",
            BlocklistFormat::Plain => "plain",
        }
    }
}

/// The values of an incident a block list can carry, sorted and distinct.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Iocs {
    pub ipv4: BTreeSet<Ipv4Addr>,
    pub ipv6: BTreeSet<Ipv6Addr>,
    pub domains: BTreeSet<String>,
    pub hashes: BTreeSet<String>,
    /// Internal addresses left out.
    pub internal: usize,
    /// Values that did not parse for their kind.
    pub invalid: usize,
}

/// Suricata rule ids of one list start here (the 1,000,000–1,999,999 range
/// is for local rules) unless the caller gives its own.
pub const DEFAULT_SID_BASE: u32 = 1_400_000;

fn internal_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_unspecified()
        || a.is_broadcast()
        // 100.64.0.0/10: carrier-grade NAT, inside someone's network.
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
}

fn internal_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || a.to_ipv4_mapped().is_some_and(internal_v4)
}

/// A domain a rule may carry as it is: 1–253 characters of letters,
/// digits, `-`, `_` and dots, with no empty label.
pub fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn valid_hash(h: &str) -> bool {
    matches!(h.len(), 32 | 40 | 64) && h.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Iocs {
    /// The incident's IPs, domains and hashes (users, hosts and URLs are
    /// not block-list material).
    pub fn of(incident: &Incident) -> Iocs {
        let mut out = Iocs::default();
        for o in &incident.observables {
            let v = o.value.trim();
            match o.kind {
                ObservableKind::Ip => match v.parse::<IpAddr>() {
                    Ok(IpAddr::V4(a)) if internal_v4(a) => out.internal += 1,
                    Ok(IpAddr::V6(a)) if internal_v6(a) => out.internal += 1,
                    Ok(IpAddr::V4(a)) => {
                        out.ipv4.insert(a);
                    }
                    Ok(IpAddr::V6(a)) => {
                        out.ipv6.insert(a);
                    }
                    Err(_) => out.invalid += 1,
                },
                ObservableKind::Domain => {
                    let d = v.trim_end_matches('.').to_ascii_lowercase();
                    if valid_domain(&d) {
                        out.domains.insert(d);
                    } else {
                        out.invalid += 1;
                    }
                }
                ObservableKind::Hash => {
                    let h = v.to_ascii_lowercase();
                    if valid_hash(&h) {
                        out.hashes.insert(h);
                    } else {
                        out.invalid += 1;
                    }
                }
                ObservableKind::User | ObservableKind::Host | ObservableKind::Url => {}
            }
        }
        out
    }

    /// Values the list carries.
    pub fn len(&self) -> usize {
        self.ipv4.len() + self.ipv6.len() + self.domains.len() + self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A name for the incident's sets and tables: its id's letters and digits,
/// the last `max` of them (incident ids end in their random part).
fn short_name(id: &str, max: usize) -> String {
    let clean: Vec<char> = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let tail = &clean[clean.len().saturating_sub(max)..];
    if tail.is_empty() {
        "x".into()
    } else {
        tail.iter().collect()
    }
}

/// The block list of `incident` in `format`. `generated` is written in its
/// header (ISO 8601 with the zone); `sid_base` numbers Suricata rules.
pub fn blocklist(
    incident: &Incident,
    format: BlocklistFormat,
    generated: &str,
    sid_base: u32,
) -> String {
    let iocs = Iocs::of(incident);
    // The header's text is the incident id and a timestamp only: a title
    // is free text and could end the comment line.
    let mut out = format!(
        "# taishi incident {} — {} block list, generated {generated}\n\
         # {} IPv4, {} IPv6, {} domains, {} hashes; left out: {} internal addresses, {} values that did not parse\n",
        short_name(&incident.id, 64),
        format.name(),
        iocs.ipv4.len(),
        iocs.ipv6.len(),
        iocs.domains.len(),
        iocs.hashes.len(),
        iocs.internal,
        iocs.invalid,
    );
    let join = |v: Vec<String>| v.join(", ");
    match format {
        BlocklistFormat::Nftables => {
            let table = format!("taishi_{}", short_name(&incident.id, 40));
            let v4: Vec<String> = iocs.ipv4.iter().map(ToString::to_string).collect();
            let v6: Vec<String> = iocs.ipv6.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "table inet {table} {{");
            // nft refuses `elements = { }`: an empty set is declared bare.
            for (set, ty, elems) in [("v4", "ipv4_addr", &v4), ("v6", "ipv6_addr", &v6)] {
                let _ = writeln!(out, "  set {set} {{\n    type {ty}");
                if !elems.is_empty() {
                    let _ = writeln!(out, "    elements = {{ {} }}", join(elems.clone()));
                }
                let _ = writeln!(out, "  }}");
            }
            for (chain, hook, dir) in [
                ("input", "input", "saddr"),
                ("forward", "forward", "saddr"),
                ("output", "output", "daddr"),
            ] {
                let _ = writeln!(
                    out,
                    "  chain {chain} {{\n    type filter hook {hook} priority filter; policy accept;\n    ip {dir} @v4 drop\n    ip6 {dir} @v6 drop\n  }}"
                );
            }
            out.push_str("}\n");
        }
        BlocklistFormat::Ipset => {
            // ipset names are at most 31 characters.
            let name = short_name(&incident.id, 20);
            for (fam, suffix, addrs) in [
                (
                    "inet",
                    "4",
                    iocs.ipv4
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>(),
                ),
                (
                    "inet6",
                    "6",
                    iocs.ipv6.iter().map(ToString::to_string).collect(),
                ),
            ] {
                let set = format!("taishi{suffix}-{name}");
                let _ = writeln!(out, "create {set} hash:ip family {fam} -exist");
                for a in addrs {
                    let _ = writeln!(out, "add {set} {a} -exist");
                }
            }
            let _ = writeln!(
                out,
                "# then: iptables -I INPUT -m set --match-set taishi4-{name} src -j DROP\n\
                 #       ip6tables -I INPUT -m set --match-set taishi6-{name} src -j DROP"
            );
        }
        BlocklistFormat::Iptables => {
            for a in &iocs.ipv4 {
                let _ = writeln!(out, "iptables -I INPUT -s {a} -j DROP");
                let _ = writeln!(out, "iptables -I OUTPUT -d {a} -j DROP");
            }
            for a in &iocs.ipv6 {
                let _ = writeln!(out, "ip6tables -I INPUT -s {a} -j DROP");
                let _ = writeln!(out, "ip6tables -I OUTPUT -d {a} -j DROP");
            }
        }
        BlocklistFormat::Suricata => {
            let tag = short_name(&incident.id, 64);
            let mut sid = sid_base;
            let mut rule = |out: &mut String, body: String| {
                let _ = writeln!(out, "{body} sid:{sid}; rev:1;)");
                sid = sid.saturating_add(1);
            };
            for a in iocs
                .ipv4
                .iter()
                .map(ToString::to_string)
                .chain(iocs.ipv6.iter().map(|a| a.to_string()))
            {
                rule(
                    &mut out,
                    format!(
                        "drop ip [{a}] any -> $HOME_NET any (msg:\"taishi {tag}: traffic from a blocked address\"; classtype:bad-unknown;"
                    ),
                );
                rule(
                    &mut out,
                    format!(
                        "drop ip $HOME_NET any -> [{a}] any (msg:\"taishi {tag}: traffic to a blocked address\"; classtype:bad-unknown;"
                    ),
                );
            }
            for d in &iocs.domains {
                // `endswith` plus the exact name: the domain and every
                // name under it.
                rule(
                    &mut out,
                    format!(
                        "drop dns $HOME_NET any -> any any (msg:\"taishi {tag}: DNS query for a blocked domain\"; dns.query; dotprefix; content:\".{d}\"; nocase; endswith; classtype:bad-unknown;"
                    ),
                );
                rule(
                    &mut out,
                    format!(
                        "drop tls $HOME_NET any -> any any (msg:\"taishi {tag}: TLS to a blocked domain\"; tls.sni; dotprefix; content:\".{d}\"; nocase; endswith; classtype:bad-unknown;"
                    ),
                );
            }
            if !iocs.hashes.is_empty() {
                let _ = writeln!(
                    out,
                    "# {} file hashes: Suricata matches them from a list file (filemd5/filesha256); take format=plain",
                    iocs.hashes.len()
                );
            }
        }
        BlocklistFormat::Plain => {
            let sections: [(&str, Vec<String>); 4] = [
                ("ipv4", iocs.ipv4.iter().map(ToString::to_string).collect()),
                ("ipv6", iocs.ipv6.iter().map(ToString::to_string).collect()),
                ("domains", iocs.domains.iter().cloned().collect()),
                ("hashes", iocs.hashes.iter().cloned().collect()),
            ];
            for (name, values) in sections {
                let _ = writeln!(out, "# {name}");
                for v in values {
                    let _ = writeln!(out, "{v}");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Actor, Provenance};
    use proptest::prelude::*;

    fn incident(obs: &[(ObservableKind, &str)]) -> Incident {
        let by = || {
            Provenance::new(
                Actor::User("ann".into()),
                chrono::DateTime::parse_from_rfc3339("2026-12-06T10:00:00+08:00").unwrap(),
                "",
            )
        };
        let mut i =
            Incident::new("inc-0194a5c8e2f1aabbccddeeff", "op-a", "t", by().when, by()).unwrap();
        for (k, v) in obs {
            // Hand-added observables may be anything the analyst typed.
            let _ = i.add_observable(*k, v, by());
        }
        i
    }

    fn sample() -> Incident {
        incident(&[
            (ObservableKind::Ip, "203.0.113.7"),
            (ObservableKind::Ip, "10.0.0.5"),
            (ObservableKind::Ip, "2001:db8::66"),
            (ObservableKind::Ip, "fe80::1"),
            (ObservableKind::Ip, "not-an-ip"),
            (ObservableKind::Domain, "Evil.Example.COM."),
            (ObservableKind::Domain, "bad\"; sid:1; (domain"),
            (
                ObservableKind::Hash,
                "44d88612fea8a8f36de82e1278abb02f44d88612fea8a8f36de82e1278abb02f",
            ),
            (ObservableKind::User, "alice"),
        ])
    }

    #[test]
    fn addresses_are_split_by_family_and_internal_ones_left_out() {
        let i = Iocs::of(&sample());
        assert_eq!(
            i.ipv4.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            ["203.0.113.7"]
        );
        assert_eq!(
            i.ipv6.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            ["2001:db8::66"]
        );
        assert_eq!(i.internal, 2);
        assert_eq!(i.invalid, 2, "the bad IP and the domain with a quote");
        assert_eq!(i.domains.iter().collect::<Vec<_>>(), ["evil.example.com"]);
        assert_eq!(i.hashes.len(), 1);
    }

    #[test]
    fn nftables_has_one_set_per_family_and_no_empty_elements() {
        let s = blocklist(
            &sample(),
            BlocklistFormat::Nftables,
            "2026-12-06T10:00:00+08:00",
            1,
        );
        assert!(
            s.contains("type ipv4_addr\n    elements = { 203.0.113.7 }"),
            "{s}"
        );
        assert!(
            s.contains("type ipv6_addr\n    elements = { 2001:db8::66 }"),
            "{s}"
        );
        assert!(s.contains("ip saddr @v4 drop") && s.contains("ip6 daddr @v6 drop"));
        assert!(!s.contains("10.0.0.5"));
        let empty = blocklist(&incident(&[]), BlocklistFormat::Nftables, "t", 1);
        assert!(!empty.contains("elements"), "{empty}");
    }

    #[test]
    fn ipset_names_fit_and_iptables_separates_families() {
        let s = blocklist(&sample(), BlocklistFormat::Ipset, "t", 1);
        for l in s.lines().filter(|l| l.starts_with("create ")) {
            let name = l.split(' ').nth(1).unwrap();
            assert!(name.len() <= 31, "{name}");
        }
        assert!(s.contains("hash:ip family inet6"));
        let t = blocklist(&sample(), BlocklistFormat::Iptables, "t", 1);
        assert!(t.contains("iptables -I INPUT -s 203.0.113.7 -j DROP"));
        assert!(t.contains("ip6tables -I INPUT -s 2001:db8::66 -j DROP"));
        assert!(!t.contains("iptables -I INPUT -s 2001"));
    }

    #[test]
    fn suricata_rules_cover_addresses_dns_and_tls_with_distinct_sids() {
        let s = blocklist(&sample(), BlocklistFormat::Suricata, "t", 1_400_000);
        assert!(s.contains("dns.query; dotprefix; content:\".evil.example.com\""));
        assert!(s.contains("tls.sni; dotprefix; content:\".evil.example.com\""));
        assert!(s.contains("[203.0.113.7]") && s.contains("[2001:db8::66]"));
        let sids: Vec<&str> = s.lines().filter_map(|l| l.split("sid:").nth(1)).collect();
        assert_eq!(sids.len(), 6);
        let distinct: BTreeSet<&&str> = sids.iter().collect();
        assert_eq!(distinct.len(), sids.len());
        assert!(!s.contains("bad\""));
    }

    #[test]
    fn plain_lists_every_kind_under_its_heading() {
        let s = blocklist(&sample(), BlocklistFormat::Plain, "t", 1);
        let body: Vec<&str> = s.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "203.0.113.7",
                "2001:db8::66",
                "evil.example.com",
                "44d88612fea8a8f36de82e1278abb02f44d88612fea8a8f36de82e1278abb02f"
            ]
        );
    }

    proptest! {
        /// Whatever an analyst typed, every format stays one rule a line
        /// and no value ends a quoted Suricata string or adds a rule.
        #[test]
        fn arbitrary_values_never_break_a_rule(
            values in proptest::collection::vec(("[0-5]", "\\PC{0,40}"), 0..20),
        ) {
            let kinds = [
                ObservableKind::Ip,
                ObservableKind::Domain,
                ObservableKind::Hash,
                ObservableKind::User,
                ObservableKind::Host,
                ObservableKind::Url,
            ];
            let obs: Vec<(ObservableKind, &str)> = values
                .iter()
                .map(|(k, v)| (kinds[k.parse::<usize>().unwrap()], v.as_str()))
                .collect();
            let i = incident(&obs);
            for f in BlocklistFormat::ALL {
                let s = blocklist(&i, f, "t", u32::MAX - 3);
                for l in s.lines() {
                    if f == BlocklistFormat::Suricata && !l.starts_with('#') {
                        prop_assert!(l.starts_with("drop "), "{l}");
                        prop_assert_eq!(l.matches('"').count(), 4, "{}", l);
                        prop_assert_eq!(l.matches("sid:").count(), 1);
                    }
                }
            }
        }
    }
}
