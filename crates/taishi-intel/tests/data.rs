//! Importers and matching over the public samples in ../shared/data/threat-intel.

use std::path::PathBuf;

use taishi_event::Event;
use taishi_intel::import::{self, Format};
use taishi_intel::{
    import_source, ImportMode, IndicatorStore, IndicatorType, IntelHit, Matcher, Source, Tlp,
    Warninglists,
};

fn path(p: &str) -> Option<PathBuf> {
    taishi_testdata::path(&format!("threat-intel/{p}"))
}

fn read(p: &str) -> Option<(String, Vec<u8>)> {
    let data = taishi_testdata::read(&format!("threat-intel/{p}"))?;
    Some((p.to_string(), data))
}

fn ev(fields: &[(&str, &str)]) -> Event {
    let mut e = Event::new();
    for (k, v) in fields {
        e.push(*k, *v);
    }
    e
}

fn hits(m: &Matcher, e: &Event) -> Vec<IntelHit> {
    let mut out = Vec::new();
    m.match_event(e, &mut out);
    out
}

#[test]
fn stix_bundles() {
    let Some((name, data)) = read("stix/poisonivy-bundle.json") else {
        return;
    };
    assert_eq!(import::detect(&name, &data), Some(Format::Stix));
    let b = import::parse(&Format::Stix, &name, "poisonivy", &data);
    assert!(b.indicators.len() > 30, "{}", b.indicators.len());
    // 'domain autuo.xicp.net' is not a domain name: reported, others kept.
    assert!(
        b.errors
            .iter()
            .any(|e| e.reason.contains("autuo.xicp.net") && e.entry.contains("indicator--")),
        "{:?}",
        b.errors
    );
    let m = Matcher::from_indicators(&b.indicators, Warninglists::builtin());
    let h = hits(
        &m,
        &ev(&[("dns.question.name", "www.Microsofta.byinter.net.")]),
    );
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].indicator, "microsofta.byinter.net");
    assert_eq!(h[0].kind, IndicatorType::Domain);
    assert!(
        h[0].context.malware.iter().any(|x| x.starts_with("PIVY")),
        "{:?}",
        h[0].context
    );
    let h = hits(&m, &ev(&[("destination.ip", "60.10.1.120")]));
    assert_eq!(h.len(), 1);

    let Some((name, data)) = read("stix/apt1-bundle.json") else {
        return;
    };
    let b = import::parse(&Format::Stix, &name, "apt1", &data);
    let cidrs: Vec<_> = b
        .indicators
        .iter()
        .filter(|i| i.kind == IndicatorType::Cidr)
        .collect();
    assert!(cidrs.iter().any(|i| i.value == "112.64.0.0/15"));
    // x509 issuer AND serial_number: no indexable anchor, kept as a pattern.
    let pats: Vec<_> = b
        .indicators
        .iter()
        .filter(|i| i.kind == IndicatorType::Pattern)
        .collect();
    assert!(!pats.is_empty());
    let m = Matcher::from_indicators(&b.indicators, Warninglists::builtin());
    let h = hits(&m, &ev(&[("source.ip", "112.65.1.2")]));
    assert_eq!(
        h.iter().filter(|h| h.indicator == "112.64.0.0/15").count(),
        1,
        "{h:?}"
    );
    let h = hits(
        &m,
        &ev(&[
            ("tls.server.x509.issuer.distinguished_name", "CN=WEBMAIL"),
            (
                "tls.server.x509.serial_number",
                "4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28",
            ),
        ]),
    );
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].kind, IndicatorType::Pattern);
    let h = hits(
        &m,
        &ev(&[("tls.server.x509.issuer.distinguished_name", "CN=WEBMAIL")]),
    );
    assert!(h.is_empty(), "AND needs both: {h:?}");
    let h = hits(
        &m,
        &ev(&[("file.hash.md5", "001DD76872D80801692FF942308C64E6")]),
    );
    assert_eq!(h.len(), 1);

    // The C2 example's 10.0.0.0 is RFC 1918: a warninglist suppresses it.
    let Some((name, data)) = read("stix/indicators-for-C2-with-COA.json") else {
        return;
    };
    let b = import::parse(&Format::Stix, &name, "coa", &data);
    assert!(b.errors.is_empty(), "{:?}", b.errors);
    let m = Matcher::from_indicators(&b.indicators, Warninglists::builtin());
    assert!(hits(&m, &ev(&[("destination.ip", "10.0.0.0")])).is_empty());
    assert_eq!(m.stats().suppressed.values().sum::<u64>(), 1);
    let h = hits(
        &m,
        &ev(&[(
            "file.hash.sha256",
            "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c",
        )]),
    );
    assert_eq!(h[0].context.malware, vec!["Poison Ivy".to_string()]);

    // MATCHES on e-mail subjects is evaluated as a pattern.
    let Some((name, data)) = read("stix/malicious-email-indicator-with-attachment.json") else {
        return;
    };
    let b = import::parse(&Format::Stix, &name, "mail", &data);
    assert!(b.errors.is_empty(), "{:?}", b.errors);
    let m = Matcher::from_indicators(&b.indicators, Warninglists::default());
    let h = hits(
        &m,
        &ev(&[("email.subject", "[IMPORTANT] Please Review Before Friday")]),
    );
    assert_eq!(
        h.len(),
        0,
        "'[IMPORTANT]' is a character class in the regex: {h:?}"
    );
    let h = hits(&m, &ev(&[("email.subject", "I Please Review Before")]));
    assert_eq!(h.len(), 1, "{h:?}");
    let h = hits(
        &m,
        &ev(&[("email.attachments.file.name", "Final Report 2024.exe")]),
    );
    assert_eq!(h.len(), 1, "{h:?}");
}

#[test]
fn misp_feed_and_events() {
    let Some(dir) = path("misp/feed") else { return };
    let b = import::misp::read_feed_dir(&dir, "circl");
    assert!(b.errors.is_empty(), "{:?}", b.errors);
    let kinds: Vec<_> = b.indicators.iter().map(|i| i.kind).collect();
    assert!(kinds.contains(&IndicatorType::Md5) && kinds.contains(&IndicatorType::Sha256));
    assert!(b.indicators.iter().all(|i| i.tlp == Some(Tlp::Clear)));
    assert!(
        b.ignored.contains_key("link (not to_ids)"),
        "{:?}",
        b.ignored
    );
    let m = Matcher::from_indicators(&b.indicators, Warninglists::default());
    let h = hits(
        &m,
        &ev(&[(
            "process.hash.sha1",
            "77b0c41b7d340b8a3d903f21347bbf06aa766b5b",
        )]),
    );
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].context.name.as_deref(), Some("Ransomware - Xorist"));

    let Some((name, data)) = read("misp/existing_event.json") else {
        return;
    };
    let b = import::parse(&Format::MispEvent, &name, "sednit", &data);
    assert!(b.errors.is_empty(), "{:?}", b.errors);
    let m = Matcher::from_indicators(&b.indicators, Warninglists::default());
    let h = hits(&m, &ev(&[("url.domain", "cdn.mvtband.net")]));
    assert_eq!(h.len(), 1, "{h:?}");
    assert!(h[0]
        .context
        .labels
        .iter()
        .any(|l| l == "misp-object:domain-ip"));
    assert!(hits(&m, &ev(&[("destination.ip", "89.33.246.117")])).len() == 1);
    assert!(
        h[0].context
            .malware
            .iter()
            .any(|x| x == "X-Agent" || x == "Sofacy" || x == "JHUHUGIT"),
        "{:?}",
        h[0].context.malware
    );

    for f in ["misp/misp_event.json", "misp/event_obj_attr_tag.json"] {
        let Some((name, data)) = read(f) else { return };
        let b = import::parse(&Format::MispEvent, &name, "x", &data);
        assert!(b.errors.is_empty(), "{f}: {:?}", b.errors);
    }
}

#[test]
fn warninglists() {
    let Some(dir) = path("misp/warninglists") else {
        return;
    };
    let (lists, errors) = Warninglists::load(&dir).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(lists.lists.len(), 7);
    let mut inds = Vec::new();
    for (k, v) in [
        (IndicatorType::Ip, "192.168.1.1"),
        (IndicatorType::Cidr, "10.1.0.0/16"),
        (IndicatorType::Domain, "api.ipify.org"),
        (IndicatorType::Url, "https://bit.ly/abc"),
        (IndicatorType::Domain, "evil.example"),
        (IndicatorType::Ip, "81.2.69.142"),
    ] {
        inds.push(taishi_intel::Indicator::parse(k, v, "t").unwrap());
    }
    let m = Matcher::from_indicators(&inds, lists);
    assert_eq!(m.len(), 2, "{:?}", m.stats());
    assert!(hits(&m, &ev(&[("destination.ip", "192.168.1.1")])).is_empty());
    assert!(hits(&m, &ev(&[("dns.question.name", "api.ipify.org")])).is_empty());
    assert_eq!(
        hits(&m, &ev(&[("dns.question.name", "a.evil.example")])).len(),
        1
    );
}

#[test]
fn abusech_feeds() {
    let Some((name, data)) = read("abusech/feodotracker_ipblocklist.csv") else {
        return;
    };
    assert_eq!(import::detect(&name, &data), Some(Format::Feodo));
    let b = import::parse(&Format::Feodo, &name, "feodo", &data);
    assert!(b.errors.is_empty(), "{:?}", b.errors);
    assert!(b.indicators.len() >= 25);
    let m = Matcher::from_indicators(&b.indicators, Warninglists::builtin());
    let h = hits(
        &m,
        &ev(&[
            ("destination.ip", "192.9.135.73"),
            ("destination.port", "1194"),
        ]),
    );
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].context.malware, vec!["Pikabot".to_string()]);
    assert!(h[0].first_seen.is_some());

    let Some((name, data)) = read("abusech/urlhaus_csv_online_head.csv") else {
        return;
    };
    assert_eq!(import::detect(&name, &data), Some(Format::Urlhaus));
    let b = import::parse(&Format::Urlhaus, &name, "urlhaus", &data);
    assert!(b.errors.is_empty(), "{:?}", b.errors);
    assert_eq!(b.indicators.len(), 13);
    let m = Matcher::from_indicators(&b.indicators, Warninglists::builtin());
    let h = hits(
        &m,
        &ev(&[("url.full", "HTTP://176.65.139.212:80/./eclipse.sh4#x")]),
    );
    assert_eq!(h.len(), 1, "{h:?}");
    assert!(h[0].context.labels.iter().any(|l| l == "mirai"));

    let Some((name, data)) = read("abusech/threatfox_api_iocs.ndjson") else {
        return;
    };
    assert_eq!(import::detect(&name, &data), Some(Format::ThreatFox));
    let b = import::parse(&Format::ThreatFox, &name, "threatfox", &data);
    assert!(b.errors.is_empty(), "{:?}", b.errors);
    assert_eq!(b.indicators.len(), 6);
    let m = Matcher::from_indicators(&b.indicators, Warninglists::builtin());
    let h = hits(
        &m,
        &ev(&[
            ("destination.ip", "81.2.69.142"),
            ("destination.port", "8808"),
        ]),
    );
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].kind, IndicatorType::IpPort);
    let mut e = ev(&[("destination.ip", "2a02:cf40:1::5")]);
    e.push("destination.port", 40669i64);
    assert_eq!(hits(&m, &e).len(), 1);
    assert!(hits(
        &m,
        &ev(&[("destination.ip", "81.2.69.142"), ("destination.port", "1")])
    )
    .is_empty());

    let Some((name, data)) = read("abusech/malwarebazaar_api_recent.ndjson") else {
        return;
    };
    assert_eq!(import::detect(&name, &data), Some(Format::MalwareBazaar));
    let b = import::parse(&Format::MalwareBazaar, &name, "mb", &data);
    assert!(b.errors.is_empty(), "{:?}", b.errors);
    assert_eq!(b.indicators.len(), 9);
    let m = Matcher::from_indicators(&b.indicators, Warninglists::builtin());
    let h = hits(
        &m,
        &ev(&[("file.hash.md5", "a4838dd31c672122441bebcbf7e9d277")]),
    );
    assert_eq!(h[0].context.malware, vec!["Hancitor".to_string()]);
}

#[test]
fn store_replaces_without_double_counting() {
    let Some(feodo) = path("abusech/feodotracker_ipblocklist.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = IndicatorStore::open(dir.path()).unwrap();
    let src = Source::Path(feodo.clone());
    let r1 = import_source(&mut store, &src, None, Some("feodo")).unwrap();
    assert!(r1.added > 0 && r1.removed == 0);
    let r2 = import_source(&mut store, &src, None, Some("feodo")).unwrap();
    assert_eq!((r2.added, r2.updated, r2.removed), (0, 0, 0));
    assert_eq!(r2.unchanged, r1.total);
    assert_eq!(r2.total, r1.total);
    // A smaller list replaces: the rest are removed.
    let b = import::parse(&Format::Text, "x", "feodo", b"192.9.135.73\n198.51.100.9\n");
    let r3 = store
        .import("feodo", b, ImportMode::Replace, None, None)
        .unwrap();
    assert_eq!((r3.added, r3.updated, r3.total), (1, 1, 2));
    assert_eq!(r3.removed, r1.total - 1);
    // Reopened, the store holds the same and builds a matcher.
    let store = IndicatorStore::open(dir.path()).unwrap();
    assert_eq!(store.sources()["feodo"].indicators, 2);
    let m = store.load_matcher().unwrap();
    assert_eq!(m.len(), 2);
    // Expired indicators stop matching.
    let mut store = store;
    let mut i = taishi_intel::Indicator::parse(IndicatorType::Domain, "old.example", "s").unwrap();
    i.valid_until = Some(chrono::Utc::now() - chrono::Duration::days(1));
    let b = taishi_intel::Batch {
        indicators: vec![i],
        ..Default::default()
    };
    store
        .import("old", b, ImportMode::Replace, None, None)
        .unwrap();
    let m = store.load_matcher().unwrap();
    assert_eq!(m.stats().expired, 1);
    assert!(hits(&m, &ev(&[("dns.question.name", "old.example")])).is_empty());
}

#[test]
fn every_sample_imports_from_its_folder() {
    let Some(dir) = path("") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut store = IndicatorStore::open(tmp.path()).unwrap();
    for sub in ["stix", "abusech", "misp/feed", "misp/warninglists"] {
        let r = import_source(&mut store, &Source::Path(dir.join(sub)), None, None).unwrap();
        for e in &r.rejected {
            assert!(!e.entry.is_empty() && !e.reason.is_empty());
        }
    }
    let (lists, _) = store.warninglists().unwrap();
    assert!(lists.lists.len() >= 10);
    assert!(store.load_matcher().unwrap().len() > 100);
}

/// Issue 13, item 7: a UFW BLOCK line to a Feodo Tracker C2 address, read
/// from a file as `taishi parse`/`hunt` read it, carries the address in
/// `destination.ip`, where the matcher finds it (before the firewall
/// reader, the address was only inside `message`, and was missed).
#[test]
fn a_firewall_line_to_a_feodo_c2_is_matched() {
    let Some(feodo) = path("abusech/feodotracker_ipblocklist.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let intel = tempfile::tempdir().unwrap();
    let mut store = IndicatorStore::open(intel.path()).unwrap();
    import_source(&mut store, &Source::Path(feodo), None, Some("feodo")).unwrap();
    let m = store.load_matcher().unwrap();
    let log = dir.path().join("ufw.log");
    std::fs::write(
        &log,
        "Mar  1 10:00:00 web01 kernel: [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 \
         SRC=10.0.0.8 DST=192.9.135.73 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=4321 DF PROTO=TCP \
         SPT=51234 DPT=1194 WINDOW=64240 RES=0x00 SYN URGP=0\n",
    )
    .unwrap();
    let events = taishi_decode::events_of(&log).unwrap();
    assert_eq!(events.len(), 1);
    let h = hits(&m, &events[0]);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(
        (h[0].field, h[0].matched.as_str()),
        ("destination.ip", "192.9.135.73")
    );
    assert_eq!(h[0].context.malware, vec!["Pikabot".to_string()]);
}
