//! GeoIP/ASN enrichment against MaxMind's test databases and the JSON they
//! are built from (../shared/data/geoip, see its SOURCES.md).

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde_json::Value as J;
use taishi_enrich::{EnrichConfig, Error, GeoIp};
use taishi_event::{Event, Value};

fn db(name: &str) -> Option<PathBuf> {
    taishi_testdata::path(&format!("geoip/test-data/{name}"))
}

fn source_data(name: &str) -> Option<Vec<(IpNet, J)>> {
    let text = taishi_testdata::read(&format!("geoip/source-data/{name}"))?;
    let list: Vec<serde_json::Map<String, J>> = serde_json::from_slice(&text).unwrap();
    Some(
        list.into_iter()
            .flat_map(|m| m.into_iter())
            .map(|(k, v)| (k.parse::<IpNet>().unwrap(), v))
            .collect(),
    )
}

/// The address to look up for a source network: its first address, written
/// as IPv4 when the network lies in the IPv4 part (`::a.b.c.d/96+`) of the
/// tree, the way events carry it.
fn probe(net: &IpNet) -> IpAddr {
    match net.network() {
        IpAddr::V6(v6) if net.prefix_len() >= 96 && v6.segments()[..6] == [0; 6] => {
            let o = v6.octets();
            IpAddr::from([o[12], o[13], o[14], o[15]])
        }
        a => a,
    }
}

/// The most specific network of the source data that holds `ip`.
fn expected(data: &[(IpNet, J)], ip: IpAddr) -> Option<&J> {
    let as_v6 = match ip {
        IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_compatible()),
        a => a,
    };
    data.iter()
        .filter(|(n, _)| n.contains(&ip) || n.contains(&as_v6))
        .max_by_key(|(n, _)| n.prefix_len())
        .map(|(_, v)| v)
}

fn s<'a>(j: &'a J, path: &[&str]) -> Option<&'a str> {
    let mut cur = j;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn open(city: Option<&str>, asn: Option<&str>) -> Option<GeoIp> {
    let mut cfg = EnrichConfig::default();
    if let Some(c) = city {
        cfg.geoip_city = Some(db(c)?);
    }
    if let Some(a) = asn {
        cfg.geoip_asn = Some(db(a)?);
    }
    Some(GeoIp::open(&cfg).expect("test databases open"))
}

fn event_with(field: &str, ip: &str) -> Event {
    let mut e = Event::new();
    e.push("event.dataset", "test");
    e.push(field, ip);
    e
}

#[test]
fn city_lookups_match_the_source_data() {
    let Some(data) = source_data("GeoIP2-City-Test.json") else {
        return;
    };
    let Some(geo) = open(Some("GeoIP2-City-Test.mmdb"), None) else {
        return;
    };
    let mut checked = 0;
    for (net, _) in &data {
        let ip = probe(net);
        if !taishi_enrich::is_public(&ip) {
            continue;
        }
        let want = expected(&data, ip).unwrap();
        let mut e = event_with("destination.ip", &ip.to_string());
        geo.enrich(&mut e);
        let got = |f: &str| e.get_str(&format!("destination.geo.{f}"));
        let ctx = format!("{ip} (network {net})");
        assert_eq!(
            got("country_iso_code"),
            s(want, &["country", "iso_code"]),
            "{ctx}"
        );
        assert_eq!(
            got("country_name"),
            s(want, &["country", "names", "en"]),
            "{ctx}"
        );
        assert_eq!(
            got("country_name_zh"),
            s(want, &["country", "names", "zh-CN"]),
            "{ctx}"
        );
        assert_eq!(
            got("continent_name"),
            s(want, &["continent", "names", "en"]),
            "{ctx}"
        );
        assert_eq!(
            got("continent_code"),
            s(want, &["continent", "code"]),
            "{ctx}"
        );
        assert_eq!(got("city_name"), s(want, &["city", "names", "en"]), "{ctx}");
        assert_eq!(
            got("timezone"),
            s(want, &["location", "time_zone"]),
            "{ctx}"
        );
        assert_eq!(got("postal_code"), s(want, &["postal", "code"]), "{ctx}");
        let sub = want.get("subdivisions").and_then(|v| v.get(0));
        assert_eq!(
            got("region_name"),
            sub.and_then(|s0| s(s0, &["names", "en"])),
            "{ctx}"
        );
        let region_iso = sub.and_then(|s0| s(s0, &["iso_code"])).map(|r| {
            match s(want, &["country", "iso_code"]) {
                Some(c) => format!("{c}-{r}"),
                None => r.to_string(),
            }
        });
        assert_eq!(
            got("region_iso_code").map(str::to_string),
            region_iso,
            "{ctx}"
        );
        let num = |f: &str| {
            e.get(&format!("destination.geo.location.{f}"))
                .and_then(Value::as_f64)
        };
        assert_eq!(
            num("lat"),
            want.pointer("/location/latitude").and_then(J::as_f64),
            "{ctx}"
        );
        assert_eq!(
            num("lon"),
            want.pointer("/location/longitude").and_then(J::as_f64),
            "{ctx}"
        );
        checked += 1;
    }
    assert!(checked > 100, "only {checked} networks checked");
    assert_eq!(geo.lookup_errors(), 0);
}

#[test]
fn asn_lookups_match_the_source_data() {
    let Some(data) = source_data("GeoLite2-ASN-Test.json") else {
        return;
    };
    let Some(geo) = open(None, Some("GeoLite2-ASN-Test.mmdb")) else {
        return;
    };
    let mut checked = 0;
    for (net, _) in &data {
        let ip = probe(net);
        if !taishi_enrich::is_public(&ip) {
            continue;
        }
        let want = expected(&data, ip).unwrap();
        let mut e = event_with("source.ip", &ip.to_string());
        geo.enrich(&mut e);
        assert_eq!(
            e.get("source.as.number").and_then(Value::as_u64),
            want.get("autonomous_system_number").and_then(J::as_u64),
            "{ip}"
        );
        assert_eq!(
            e.get_str("source.as.organization.name"),
            want.get("autonomous_system_organization")
                .and_then(J::as_str),
            "{ip}"
        );
        assert!(e.get("source.geo.country_iso_code").is_none());
        checked += 1;
    }
    assert!(checked > 50, "only {checked} networks checked");
}

#[test]
fn known_answers_on_every_address_field() {
    let Some(geo) = open(
        Some("GeoIP2-City-Test.mmdb"),
        Some("GeoLite2-ASN-Test.mmdb"),
    ) else {
        return;
    };
    let mut e = Event::new();
    e.push("source.ip", "81.2.69.142");
    e.push("destination.ip", "175.16.199.7");
    e.push("client.ip", "81.2.69.142");
    e.push("server.ip", "10.0.0.8");
    e.push("host.ip", Value::from(vec!["192.168.1.2", "216.160.83.56"]));
    geo.enrich(&mut e);
    let g = |f: &str| e.get_str(f);
    assert_eq!(g("source.geo.city_name"), Some("London"));
    assert_eq!(g("source.geo.country_iso_code"), Some("GB"));
    assert_eq!(g("source.geo.country_name"), Some("United Kingdom"));
    assert_eq!(g("source.geo.region_iso_code"), Some("GB-ENG"));
    assert_eq!(g("source.geo.continent_name"), Some("Europe"));
    assert_eq!(g("client.geo.city_name"), Some("London"));
    assert_eq!(g("destination.geo.city_name"), Some("Changchun"));
    assert_eq!(g("destination.geo.region_name"), Some("Jilin Sheng"));
    assert_eq!(g("destination.geo.country_name_zh"), Some("中国"));
    assert_eq!(g("destination.geo.country_iso_code"), Some("CN"));
    assert_eq!(g("host.geo.city_name"), Some("Milton"));
    assert_eq!(g("host.geo.region_name"), Some("Washington"));
    assert!(e.get("server.geo.country_iso_code").is_none());

    let mut a = event_with("source.ip", "1.128.0.0");
    geo.enrich(&mut a);
    assert_eq!(a.get("source.as.number"), Some(&Value::UInt(1221)));
    assert_eq!(
        a.get_str("source.as.organization.name"),
        Some("Telstra Pty Ltd")
    );

    let info = geo.lookup("175.16.199.7".parse().unwrap()).unwrap();
    assert_eq!(info.city_name.as_deref(), Some("Changchun"));
    assert!(geo.lookup("10.0.0.1".parse().unwrap()).unwrap().is_empty());
    let dbs = geo.databases();
    assert_eq!(dbs.len(), 2);
    assert_eq!(dbs[0].database_type, "GeoIP2-City");
    assert_eq!(dbs[1].database_type, "GeoLite2-ASN");
}

#[test]
fn fields_the_event_already_has_are_kept() {
    let Some(geo) = open(
        Some("GeoIP2-City-Test.mmdb"),
        Some("GeoLite2-ASN-Test.mmdb"),
    ) else {
        return;
    };
    let mut e = event_with("source.ip", "81.2.69.142");
    e.push("source.geo.country_iso_code", "XX");
    e.push("source.as.number", 7u64);
    let n = e.len();
    geo.enrich(&mut e);
    assert_eq!(e.len(), n);
    assert_eq!(e.get_str("source.geo.country_iso_code"), Some("XX"));
}

#[test]
fn country_databases_fill_country_fields_only() {
    let Some(geo) = open(Some("GeoLite2-Country-Test.mmdb"), None) else {
        return;
    };
    let mut e = event_with("source.ip", "81.2.69.142");
    geo.enrich(&mut e);
    assert_eq!(e.get_str("source.geo.country_iso_code"), Some("GB"));
    assert!(e.get("source.geo.city_name").is_none());
}

#[test]
fn wrong_kind_of_database_is_named() {
    let Some(asn) = db("GeoLite2-ASN-Test.mmdb") else {
        return;
    };
    let cfg = EnrichConfig {
        geoip_city: Some(asn),
        ..EnrichConfig::default()
    };
    let err = GeoIp::open(&cfg).unwrap_err();
    assert!(matches!(err, Error::WrongType { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("GeoLite2-ASN-Test.mmdb") && msg.contains("geoip_city"),
        "{msg}"
    );
}

#[test]
fn missing_file_is_named() {
    let cfg = EnrichConfig {
        geoip_asn: Some("/nonexistent/GeoLite2-ASN.mmdb".into()),
        ..EnrichConfig::default()
    };
    assert_eq!(cfg.validate().len(), 1);
    let msg = GeoIp::open(&cfg).unwrap_err().to_string();
    assert!(msg.contains("/nonexistent/GeoLite2-ASN.mmdb"), "{msg}");
}

/// Every deliberately broken file: refused with a message naming it, or, if
/// the damage is somewhere open and verify cannot see, lookups over it fail
/// softly (counted), never a panic.
#[test]
fn broken_databases_are_refused_by_name() {
    let Some(bad) = taishi_testdata::path("geoip/bad-data") else {
        return;
    };
    let Some(test_data) = taishi_testdata::path("geoip/test-data") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&bad)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for name in [
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "MaxMind-DB-test-broken-pointers-24.mmdb",
        "MaxMind-DB-test-broken-search-tree-24.mmdb",
    ] {
        files.push(test_data.join(name));
    }
    files.sort();
    let mut refused = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        // Most of these are not City databases at all; the City key checks
        // the type, so open them where no type is expected to get at the
        // reader's own checks: as ASN when it says ASN, else City.
        for key in ["city", "asn"] {
            let cfg = EnrichConfig {
                geoip_city: (key == "city").then(|| f.clone()),
                geoip_asn: (key == "asn").then(|| f.clone()),
                verify: true,
            };
            match GeoIp::open(&cfg) {
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains(&name), "{msg}");
                    refused += 1;
                }
                Ok(geo) => {
                    // Accepted by type and by verify: lookups must still be safe.
                    for ip in ["81.2.69.142", "1.1.1.1", "2001:480::1", "175.16.199.1"] {
                        let mut e = event_with("source.ip", ip);
                        geo.enrich(&mut e);
                        let _ = geo.lookup(ip.parse().unwrap());
                    }
                }
            }
        }
    }
    assert!(
        refused >= files.len(),
        "{refused} refusals for {} files",
        files.len()
    );
}

#[test]
fn config_section_parses_and_rejects_unknown_keys() {
    let cfg: EnrichConfig = toml::from_str(
        "geoip_city = \"/data/GeoLite2-City.mmdb\"\ngeoip_asn = \"/data/GeoLite2-ASN.mmdb\"\n",
    )
    .unwrap();
    assert_eq!(
        cfg.geoip_city.as_deref(),
        Some(std::path::Path::new("/data/GeoLite2-City.mmdb"))
    );
    assert!(cfg.verify);
    let empty: EnrichConfig = toml::from_str("").unwrap();
    assert!(empty.is_empty());
    let err = toml::from_str::<EnrichConfig>("geoip_cty = \"x\"").unwrap_err();
    assert!(err.to_string().contains("geoip_cty"), "{err}");
}
