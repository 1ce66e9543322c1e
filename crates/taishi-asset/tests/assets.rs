//! Inventory imports, the register's merge and split, discovery and rescan.

use chrono::{DateTime, TimeZone, Utc};
use taishi_asset::*;

fn t(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, 8, 0, 0).unwrap()
}

fn opts(name: &str, at: DateTime<Utc>) -> ImportOptions {
    ImportOptions::new(OrgId("org-1".into()), name, at)
}

fn ip(s: &str) -> Identity {
    Identity::Ip(s.parse().unwrap())
}

const ZH_CSV: &str = "\u{feff}资产名称,IP地址,MAC地址,主机名,负责人,业务系统,重要性,关基,行业,等保级别,数据级别,暴露端口,软件,标签,首次发现时间
调度主站,10.1.1.10;10.1.1.11,00-50-56-81-01-E3,scada01,张三,电力调度,关键,是,电力,三级,核心,tcp/443,cpe:2.3:a:apache:http_server:2.4.7:*:*:*:*:*:*:* pkg:npm/lodash@4.17.20,生产|OT,2026-01-15 09:00:00
办公网关,10.2.0.1,,gw01.corp.example,李四,办公,一般,否,电力,2,一般,,openssh 7.4,,
坏行,10.2.0.300,,,,,,,,,,,,,
没有标识,,,,王五,办公,,,,,,,,,
等级错误,10.2.0.5,,,,,,,,六级,,,,,
";

#[test]
fn chinese_csv_inventory() {
    let r = import_csv(ZH_CSV.as_bytes(), &opts("台账.csv", t(1))).unwrap();
    assert_eq!(r.records, 5);
    assert_eq!(r.assets.len(), 2);
    assert_eq!(r.rejects.len(), 3);
    assert!(r.unmapped_columns.is_empty(), "{:?}", r.unmapped_columns);
    // Bad rows name the file, the line and the column as written.
    let bad_ip = &r.rejects[0];
    assert_eq!(
        (bad_ip.record, bad_ip.field.as_deref()),
        (4, Some("IP地址"))
    );
    assert!(bad_ip
        .message(Lang::Zh)
        .contains("台账.csv：第 4 条记录，字段 IP地址"));
    assert!(bad_ip.to_string().contains("10.2.0.300"));
    assert_eq!(r.rejects[1].problem, Problem::NoIdentity);
    assert_eq!(r.rejects[2].field.as_deref(), Some("等保级别"));

    let a = &r.assets[0];
    assert_eq!(a.identities.len(), 4);
    assert!(a.has_identity(&ip("10.1.1.11")));
    assert!(a.has_identity(&Identity::Mac(Mac::parse("00:50:56:81:01:e3").unwrap())));
    assert!(a.has_identity(&Identity::Hostname("scada01".into())));
    assert_eq!(a.owner.as_ref().unwrap().value, "张三");
    assert_eq!(a.business_system.as_ref().unwrap().value, "电力调度");
    assert_eq!(a.importance.as_ref().unwrap().value, Importance::Critical);
    assert!(a.cii.as_ref().unwrap().value);
    assert_eq!(a.dengbao.as_ref().unwrap().value.get(), 3);
    assert_eq!(a.data_level.as_ref().unwrap().value, DataLevel::Core);
    assert_eq!(a.exposure().count(), 1);
    assert_eq!(a.software.len(), 2);
    assert_eq!(
        a.software[1].value.purl.as_ref().unwrap().to_string(),
        "pkg:npm/lodash@4.17.20"
    );
    assert_eq!(a.tags.len(), 2);
    assert_eq!(
        a.first_seen,
        Some(Utc.with_ymd_and_hms(2026, 1, 15, 9, 0, 0).unwrap())
    );
    // Provenance: this file, this line.
    let p = &a.owner.as_ref().unwrap().provenance[0];
    assert_eq!(
        (p.source.as_str(), p.record, p.kind.clone()),
        ("台账.csv", Some(2), SourceKind::Inventory)
    );

    let b = &r.assets[1];
    assert!(b.has_identity(&Identity::Fqdn("gw01.corp.example".into())));
    assert_eq!(b.dengbao.as_ref().unwrap().value.label(Lang::Zh), "第二级");
    assert_eq!(b.software[0].value.name.as_deref(), Some("openssh"));
    assert_eq!(b.software[0].value.version.as_deref(), Some("7.4"));
}

#[test]
fn english_json_inventory() {
    let json = r#"{"assets": [
        {"name": "historian", "ip": ["10.3.0.7"], "fqdn": "hist.plant.example", "owner": "ops",
         "business_system": "SCADA", "importance": "high", "cii": true, "dengbao": 3,
         "data_level": "important", "exposed_ports": ["tcp/502"], "software": ["cpe:/a:microsoft:sql_server:2019"],
         "tags": ["ot"], "last_seen": "2026-11-30T10:00:00+08:00", "colour": "blue"},
        {"name": "no identity"},
        [1, 2],
        {"ip": "10.3.0.8", "software": {"x": 1}},
        {"ip": "10.3.0.9", "software": [{"name": "nginx", "version": "1.18.0"}, {"purl": "pkg:pypi/django@3.2.9"}]}
    ]}"#;
    let r = import_json(json.as_bytes(), &opts("inv.json", t(1))).unwrap();
    assert_eq!((r.records, r.assets.len(), r.rejects.len()), (5, 2, 3));
    let sw: Vec<String> = r.assets[1]
        .software
        .iter()
        .map(|f| format!("{:?}@{:?}", f.value.name, f.value.version))
        .collect();
    assert_eq!(
        sw,
        [
            "Some(\"nginx\")@Some(\"1.18.0\")",
            "Some(\"django\")@Some(\"3.2.9\")"
        ]
    );
    assert_eq!(r.unmapped_columns, vec!["colour".to_string()]);
    assert_eq!(r.rejects[2].record, 4);
    assert_eq!(r.rejects[2].field.as_deref(), Some("software"));
    let a = &r.assets[0];
    assert_eq!(a.importance.as_ref().unwrap().value, Importance::High);
    assert_eq!(
        a.software[0].value.cpe.as_ref().unwrap().formatted(),
        "cpe:2.3:a:microsoft:sql_server:2019:*:*:*:*:*:*:*"
    );
    assert_eq!(
        a.last_seen,
        Some(Utc.with_ymd_and_hms(2026, 11, 30, 2, 0, 0).unwrap())
    );
    // A broken document is one error naming the place.
    let e = import_json(b"[{\"ip\": }]", &opts("bad.json", t(1))).unwrap_err();
    assert!(matches!(e, ImportError::Json { line: 1, .. }), "{e}");
    assert!(e.message(Lang::Zh).contains("bad.json"));
}

#[test]
fn register_merges_on_shared_identities_within_an_org() {
    let mut reg = Register::new(MergePolicy::default());
    let inv = import_csv(ZH_CSV.as_bytes(), &opts("台账.csv", t(1))).unwrap();
    for a in inv.assets {
        reg.ingest(a);
    }
    assert_eq!(reg.len(), 2);
    // A scan a day later sees 10.1.1.10: the same asset, provenance kept.
    let nmap = br#"<nmaprun start="1764576000"><host starttime="1764576000"><status state="up"/>
        <address addr="10.1.1.10" addrtype="ipv4"/><ports><port protocol="tcp" portid="22">
        <state state="open"/><service name="ssh"><cpe>cpe:/a:openbsd:openssh:7.4</cpe></service></port></ports></host></nmaprun>"#;
    let scan = scan::nmap::parse(nmap, &opts("scan.xml", t(2))).unwrap();
    let seen_at = scan.assets[0].last_seen.unwrap();
    // 1764576000 = 2025-12-01: far from the inventory's import time, so
    // the IP alone does not merge...
    let out = reg.ingest(scan.assets[0].clone());
    assert!(out.created);
    assert_eq!(reg.len(), 3);
    // ...but within the window it does.
    let mut near = scan.assets[0].clone();
    for f in &mut near.identities {
        for p in &mut f.provenance {
            p.at = t(2);
        }
    }
    let out = reg.ingest(near);
    assert!(!out.created);
    let merged = reg.get(out.id).unwrap();
    let ssh = merged.services.iter().find(|s| s.value.port == 22).unwrap();
    assert_eq!(ssh.provenance[0].source, "scan.xml");
    let ip_fact = merged
        .identities
        .iter()
        .find(|f| f.value == ip("10.1.1.10"))
        .unwrap();
    assert_eq!(
        ip_fact.provenance.len(),
        2,
        "inventory and scan both said it"
    );
    assert!(seen_at < t(1));
    // The same MAC in another organisation is another asset.
    let mut other = Asset::new(AssetId(0), OrgId("org-2".into()));
    other.identities.push(
        Provenance::new(SourceKind::Manual, "x", t(1))
            .fact(Identity::Mac(Mac::parse("00:50:56:81:01:e3").unwrap())),
    );
    assert!(reg.ingest(other).created);
}

#[test]
fn an_incoming_asset_can_join_two_registered_ones() {
    let mut reg = Register::new(MergePolicy::default());
    let p = Provenance::new(SourceKind::Inventory, "a.csv", t(1));
    let mut a = Asset::new(AssetId(0), OrgId("o".into()));
    a.identities
        .push(p.fact(Identity::Fqdn("db.example".into())));
    let mut b = Asset::new(AssetId(0), OrgId("o".into()));
    b.identities
        .push(p.fact(Identity::Mac(Mac::parse("aa:bb:cc:dd:ee:ff").unwrap())));
    let ia = reg.ingest(a).id;
    let ib = reg.ingest(b).id;
    let mut c = Asset::new(AssetId(0), OrgId("o".into()));
    c.identities
        .push(p.fact(Identity::Fqdn("db.example".into())));
    c.identities
        .push(p.fact(Identity::Mac(Mac::parse("AA-BB-CC-DD-EE-FF").unwrap())));
    let out = reg.ingest(c);
    assert_eq!(out.id, ia);
    assert_eq!(out.merged.len(), 1);
    assert_eq!(out.merged[0].0, ib);
    assert_eq!(
        out.merged[0].1.explain(Lang::Zh),
        "共有MAC地址：mac:aa:bb:cc:dd:ee:ff"
    );
    assert_eq!(reg.len(), 1);
}

#[test]
fn manual_merge_and_split() {
    let mut reg = Register::new(MergePolicy::default());
    let inv = import_csv(ZH_CSV.as_bytes(), &opts("台账.csv", t(1))).unwrap();
    let ids: Vec<AssetId> = inv.assets.into_iter().map(|a| reg.ingest(a).id).collect();
    // A scan says 10.1.1.11 runs a web server: its own observation.
    let p = Provenance::new(SourceKind::Scan, "scan2.xml", t(1)).at_record(1);
    let mut s = Asset::new(AssetId(0), OrgId("org-1".into()));
    s.identities.push(p.fact(ip("10.1.1.11")));
    s.services
        .push(p.fact(Service::parse("tcp/8080", false).unwrap()));
    reg.ingest(s);
    // The analyst: 10.1.1.11 is another machine.
    let new = reg
        .split(ids[0], &[ip("10.1.1.11")], "analyst", t(3))
        .unwrap();
    let old = reg.get(ids[0]).unwrap();
    let split = reg.get(new).unwrap();
    assert!(!old.has_identity(&ip("10.1.1.11")));
    assert!(split.has_identity(&ip("10.1.1.11")));
    // The port only the moved address's scan said went with it; the
    // inventory's exposure (said on the same line as both addresses) stayed.
    assert_eq!(split.services.len(), 1);
    assert_eq!(split.services[0].value.port, 8080);
    assert_eq!(old.exposure().count(), 1);
    // Kept apart: a later sighting naming both does not rejoin them.
    let p3 = Provenance::new(SourceKind::Scan, "scan3.xml", t(3));
    let mut both = Asset::new(AssetId(0), OrgId("org-1".into()));
    both.identities.push(p3.fact(ip("10.1.1.10")));
    both.identities.push(p3.fact(ip("10.1.1.11")));
    reg.ingest(both);
    assert!(!reg.get(ids[0]).unwrap().has_identity(&ip("10.1.1.11")));
    let kept = reg.get(new).unwrap();
    let f = kept
        .identities
        .iter()
        .find(|f| f.value == ip("10.1.1.11"))
        .unwrap();
    assert_eq!(
        f.provenance.len(),
        3,
        "the new sighting went to the split-off asset"
    );
    // Errors.
    assert_eq!(
        reg.split(ids[0], &[ip("9.9.9.9")], "a", t(3)),
        Err(RegisterError::NothingToSplit { id: ids[0] })
    );
    assert!(matches!(
        reg.merge(ids[0], ids[0], "a", t(3)),
        Err(RegisterError::SameAsset(_))
    ));
    // Merging by hand joins them again and says who did it.
    reg.merge(ids[0], new, "analyst", t(4)).unwrap();
    assert!(reg.get(new).is_none());
    assert!(matches!(
        reg.journal().last(),
        Some(Change::Merged {
            reason: MergeReason::Manual { .. },
            ..
        })
    ));
    assert!(reg.get(ids[1]).is_some());
}

#[test]
fn discovery_flags_unregistered_internal_hosts() {
    let mut reg = Register::new(MergePolicy::default());
    for a in import_csv(ZH_CSV.as_bytes(), &opts("台账.csv", t(1)))
        .unwrap()
        .assets
    {
        reg.ingest(a);
    }
    let s = |ip: Option<&str>, host: Option<&str>, src: &str, d: u32| Sighting {
        ip: ip.map(|i| i.parse().unwrap()),
        hostname: host.map(str::to_string),
        source: src.into(),
        at: t(d),
    };
    let seen = vec![
        s(Some("10.1.1.10"), None, "flow", 1), // registered
        s(None, Some("SCADA01.corp.local"), "evtx Computer", 1), // registered short name
        s(None, Some("gw01"), "syslog host", 1), // registered FQDN's first label
        s(Some("10.9.9.9"), Some("rogue-pi"), "dhcp", 2),
        s(Some("10.9.9.9"), None, "flow", 5),
        s(Some("8.8.8.8"), None, "flow", 1), // external: not ours
        s(None, Some("laptop-x.corp.local"), "evtx Computer", 3),
    ];
    let internal = vec!["10.0.0.0/8".parse().unwrap()];
    let u = discover(
        seen,
        &reg,
        &OrgId("org-1".into()),
        &internal,
        DiscoveryLimits::default(),
    );
    assert_eq!(u.len(), 2, "{u:?}");
    assert_eq!(u[0].ip, Some("10.9.9.9".parse().unwrap()));
    assert_eq!(u[0].sightings, 2);
    assert_eq!((u[0].first_seen, u[0].last_seen), (t(2), t(5)));
    assert!(u[0].hostnames.contains("rogue-pi"));
    assert!(u[0].reason(Lang::Zh).contains("未登记在资产台账中"));
    assert!(u[1].hostnames.contains("laptop-x.corp.local"));
    // Another organisation's register does not hide these.
    let u = discover(
        vec![s(Some("10.1.1.10"), None, "flow", 1)],
        &reg,
        &OrgId("org-2".into()),
        &internal,
        DiscoveryLimits::default(),
    );
    assert_eq!(u.len(), 1);
}

#[test]
fn rescan_new_open_fixed() {
    let o = |n: &str| opts(n, t(1));
    let first = b"IP,Port,Protocol,CVE,Plugin ID,Name,Risk
10.0.0.1,22,tcp,CVE-2018-15919,1,ssh,Medium
10.0.0.1,22,tcp,CVE-2017-15906,2,ssh,Medium
10.0.0.2,80,tcp,CVE-2021-41773,3,httpd,Critical
10.0.0.3,443,tcp,,4,tls,Low
";
    let second = b"IP,Port,Protocol,CVE,Plugin ID,Name,Risk
10.0.0.1,22,tcp,CVE-2018-15919,1,ssh,Medium
10.0.0.1,3389,tcp,CVE-2019-0708,5,rdp,Critical
10.0.0.3,443,tcp,,6,other,Low
";
    let before = parse_report(first, &o("w1.csv")).unwrap();
    let after = parse_report(second, &o("w2.csv")).unwrap();
    let d = rescan(&before.findings, &after);
    let vulns = |v: &[FindingKey]| v.iter().map(|k| k.vuln.clone()).collect::<Vec<_>>();
    assert_eq!(vulns(&d.new), vec!["CVE-2019-0708", "nessus:6"]);
    assert_eq!(vulns(&d.still_open), vec!["CVE-2018-15919"]);
    assert_eq!(vulns(&d.fixed), vec!["CVE-2017-15906", "nessus:4"]);
    // 10.0.0.2 was not in the rescan: its finding is not called fixed.
    assert_eq!(vulns(&d.not_rescanned), vec!["CVE-2021-41773"]);
    assert_eq!(d.state(&d.fixed[0]), Some(RescanState::Fixed));
    assert_eq!(RescanState::Fixed.label(Lang::Zh), "已修复（复扫未再发现）");
    // A different scanner's report does not close Nessus findings.
    let nmap = br#"<nmaprun><host><status state="up"/><address addr="10.0.0.1" addrtype="ipv4"/></host></nmaprun>"#;
    let other = scan::nmap::parse(nmap, &o("n.xml")).unwrap();
    let d = rescan(&before.findings, &other);
    assert!(d.fixed.is_empty());
}

#[test]
fn one_service_per_port_external_if_any_source_saw_it_from_outside() {
    let inside = br#"<nmaprun><host><status state="up"/><address addr="10.5.0.1" addrtype="ipv4"/>
        <ports><port protocol="tcp" portid="443"><state state="open"/></port></ports></host></nmaprun>"#;
    let outside = br#"<nmaprun><host><status state="up"/><address addr="10.5.0.1" addrtype="ipv4"/>
        <ports><port protocol="tcp" portid="443"><state state="open"/><service name="https"/></port></ports></host></nmaprun>"#;
    let mut o = opts("inside.xml", t(1));
    let mut a = import_nmap(inside, &o).unwrap().assets.remove(0);
    assert_eq!(a.exposure().count(), 0);
    o.source_name = "outside.xml".into();
    o.external = true;
    a.absorb(import_nmap(outside, &o).unwrap().assets.remove(0));
    assert_eq!(a.services.len(), 1);
    let s = &a.services[0];
    assert!(s.value.external);
    assert_eq!(s.value.name.as_deref(), Some("https"));
    assert_eq!(s.provenance.len(), 2);
}

#[test]
fn software_names() {
    let c = Cpe::parse("cpe:/a:Apache:HTTP_Server:2.4.7").unwrap();
    assert_eq!(
        c.formatted(),
        "cpe:2.3:a:apache:http_server:2.4.7:*:*:*:*:*:*:*"
    );
    let c = Cpe::parse("cpe:/o:microsoft:windows_7::sp1:~~~x64~~").unwrap();
    assert_eq!((c.update.as_str(), c.target_hw.as_str()), ("sp1", "*"));
    assert_eq!(c.target_sw, "x64");
    let c =
        Cpe::parse(r"cpe:2.3:a:libgssapi:libgssapi_krb5_2:1.17-3\+deb10u3:*:*:*:*:*:*:*").unwrap();
    assert_eq!(c.version, "1.17-3+deb10u3");
    assert_eq!(
        c.formatted(),
        r"cpe:2.3:a:libgssapi:libgssapi_krb5_2:1.17-3\+deb10u3:*:*:*:*:*:*:*"
    );
    assert!(matches!(
        Cpe::parse("cpe:2.3:a:x"),
        Err(SoftwareError::Components { found: 4, .. })
    ));
    assert!(Cpe::parse("cpe:/z:x:y").is_err());
    let p = Purl::parse("pkg:deb/debian/libc6@2.28-10?arch=amd64").unwrap();
    assert_eq!(
        (p.ty.as_str(), p.namespace.as_deref(), p.name.as_str()),
        ("deb", Some("debian"), "libc6")
    );
    assert_eq!(p.version.as_deref(), Some("2.28-10"));
    assert_eq!(p.to_string(), "pkg:deb/debian/libc6@2.28-10?arch=amd64");
    let p = Purl::parse("pkg:npm/%40angular/core@16.0.0").unwrap();
    assert_eq!(p.namespace.as_deref(), Some("@angular"));
    assert!(Purl::parse("npm/x").is_err());
}

#[test]
fn value_parsers_and_labels() {
    assert_eq!(DengbaoLevel::parse("等保三级").map(|l| l.get()), Some(3));
    assert_eq!(DengbaoLevel::parse("第四级").map(|l| l.get()), Some(4));
    assert_eq!(DengbaoLevel::parse("Level 2").map(|l| l.get()), Some(2));
    assert_eq!(DengbaoLevel::parse("35"), None);
    assert_eq!(DengbaoLevel::parse("6"), None);
    assert_eq!(DataLevel::parse("重要数据"), Some(DataLevel::Important));
    assert_eq!(DataLevel::Core.label(Lang::En), "core data");
    assert_eq!(Severity::parse("高危"), Some(Severity::High));
    assert_eq!(Severity::Critical.label(Lang::Zh), "严重");
    assert_eq!(
        Service::parse("443/udp", true).unwrap().transport,
        Transport::Udp
    );
    assert_eq!(
        Identity::name("Web01.Corp.Example."),
        Some(Identity::Fqdn("web01.corp.example".into()))
    );
    assert_eq!(
        Mac::parse("0050.5681.01e3").unwrap().to_string(),
        "00:50:56:81:01:e3"
    );
    assert_eq!(Scanner::Csv.label(Lang::Zh), "CSV 导入");
}
