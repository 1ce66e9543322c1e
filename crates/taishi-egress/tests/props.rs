//! The range checker never panics and agrees with std's own predicates
//! where std has them; the URL check never panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use taishi_egress::{classify, Category, EgressPolicy};

fn v4_agrees(a: Ipv4Addr) {
    let c = classify(IpAddr::V4(a));
    if a.is_loopback() {
        assert_eq!(c, Some(Category::Loopback), "{a}");
    }
    if a.is_private() {
        assert_eq!(c, Some(Category::Private), "{a}");
    }
    if a.is_link_local() {
        assert!(
            matches!(c, Some(Category::LinkLocal | Category::CloudMetadata)),
            "{a}"
        );
    }
    if a.is_multicast() {
        assert_eq!(c, Some(Category::Multicast), "{a}");
    }
    if a.is_broadcast() {
        assert_eq!(c, Some(Category::Broadcast), "{a}");
    }
    if a.is_unspecified() {
        assert_eq!(c, Some(Category::Unspecified), "{a}");
    }
    if a.is_documentation() {
        assert_eq!(c, Some(Category::Documentation), "{a}");
    }
    // Every IPv6 form that carries it is classified the same.
    if c.is_some() {
        assert_eq!(classify(IpAddr::V6(a.to_ipv6_mapped())), c, "{a}");
        let [x, y, z, w] = a.octets();
        let nat64 = Ipv6Addr::new(
            0x64,
            0xff9b,
            0,
            0,
            0,
            0,
            u16::from_be_bytes([x, y]),
            u16::from_be_bytes([z, w]),
        );
        assert_eq!(classify(IpAddr::V6(nat64)), c, "{nat64}");
    }
}

fn v6_agrees(a: Ipv6Addr) {
    let c = classify(IpAddr::V6(a));
    if a.is_loopback() {
        assert_eq!(c, Some(Category::Loopback), "{a}");
    }
    if a.is_unspecified() {
        assert_eq!(c, Some(Category::Unspecified), "{a}");
    }
    if a.is_multicast() {
        assert_eq!(c, Some(Category::Multicast), "{a}");
    }
    if a.is_unique_local() {
        assert!(
            matches!(c, Some(Category::UniqueLocal | Category::CloudMetadata)),
            "{a}"
        );
    }
    if a.is_unicast_link_local() {
        assert_eq!(c, Some(Category::LinkLocal), "{a}");
    }
}

#[test]
fn edges_agree_with_std() {
    for s in [
        "0.0.0.0",
        "127.0.0.1",
        "127.255.255.255",
        "10.0.0.0",
        "10.255.255.255",
        "172.16.0.0",
        "172.31.255.255",
        "172.32.0.0",
        "192.168.0.1",
        "169.254.0.1",
        "169.254.169.254",
        "224.0.0.1",
        "239.255.255.255",
        "255.255.255.255",
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.9",
        "8.8.8.8",
        "100.64.0.1",
        "100.127.255.255",
        "100.128.0.0",
        "240.0.0.1",
        "0.1.2.3",
    ] {
        v4_agrees(s.parse().unwrap());
    }
    for s in [
        "::",
        "::1",
        "fc00::1",
        "fdff::1",
        "fe80::1",
        "febf::1",
        "ff02::1",
        "2001:db8::1",
        "2400:3200::1",
    ] {
        v6_agrees(s.parse().unwrap());
    }
}

proptest! {
    #[test]
    fn v4_never_panics_and_agrees(bits: u32) {
        v4_agrees(Ipv4Addr::from(bits));
    }

    #[test]
    fn v6_never_panics_and_agrees(bits: u128) {
        v6_agrees(Ipv6Addr::from(bits));
    }

    #[test]
    fn v6_near_special_prefixes(hi in prop::sample::select(vec![0u16, 0x64, 0x2002, 0xfc00, 0xfd00, 0xfe80, 0xfec0, 0xff00, 0x2001]), rest: u128) {
        let a = Ipv6Addr::from(((hi as u128) << 112) | (rest >> 16));
        v6_agrees(a);
    }

    #[test]
    fn check_url_never_panics(s in "\\PC{0,200}") {
        let _ = EgressPolicy::default().check_url(&s);
        let _ = EgressPolicy::allow_private().check_url(&format!("http://{s}/"));
    }

    #[test]
    fn allow_entries_never_panic(s in "\\PC{0,80}") {
        let _ = s.parse::<taishi_egress::AllowEntry>();
    }
}
