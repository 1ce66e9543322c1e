//! The specification's matching semantics, one form at a time, through the
//! whole engine (parse, pipeline, prefilter, evaluation).

use taishi_event::{Event, Value};
use taishi_sigma::{rule_from_yaml, Engine, Pipeline, Profile, RuleSet, Scratch};

fn ev(fields: &[(&str, Value)]) -> Event {
    let mut e = Event::new();
    for (k, v) in fields {
        e.push(*k, v.clone());
    }
    e
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn rule_text(detection: &str) -> String {
    format!("title: test rule\nid: 00000000-0000-0000-0000-000000000001\nlogsource:\n    product: test\ndetection:\n{detection}")
}

fn engine_with(text: &str, pipelines: &[&str]) -> Engine {
    let r = rule_from_yaml(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let profile =
        Profile::from_args(&pipelines.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap();
    Engine::with_profiles(&[r], &[profile], false)
}

fn hits(detection: &str, e: &Event) -> bool {
    let engine = engine_with(&rule_text(detection), &[]);
    assert!(engine.errors().is_empty(), "{:?}", engine.errors());
    let mut out = Vec::new();
    engine.detect(e, &mut Scratch::new(), &mut out);
    !out.is_empty()
}

#[test]
fn plain_values_are_case_insensitive_and_exact() {
    let e = ev(&[("Image", s(r"C:\Windows\System32\whoami.exe"))]);
    assert!(hits(
        "    sel:\n        Image: 'c:\\windows\\system32\\WHOAMI.exe'\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        Image: 'whoami.exe'\n    condition: sel",
        &e
    ));
    // Non-ASCII text folds too.
    let e = ev(&[("User", s("ÉLISE"))]);
    assert!(hits(
        "    sel:\n        User: 'élise'\n    condition: sel",
        &e
    ));
}

#[test]
fn wildcards_and_escapes_follow_the_specification() {
    let e = ev(&[("F", s(r"C:\Windows\*\x?.exe"))]);
    // `*` and `?` are wildcards.
    assert!(hits(
        r"    sel:
        F: 'c:\windows\\*.exe'
    condition: sel",
        &e
    ));
    assert!(hits(
        r"    sel:
        F: 'C:\Windows\\?\x??exe'
    condition: sel",
        &e
    ));
    // Without the escaped backslash, `\*` is a plain star: no match here.
    assert!(!hits(
        r"    sel:
        F: 'c:\windows\*.exe'
    condition: sel",
        &e
    ));
    // `\*` and `\?` are plain characters: the value really holds them.
    assert!(hits(
        "    sel:\n        F: 'C:\\Windows\\\\\\*\\x\\?.exe'\n    condition: sel",
        &e
    ));
    let other = ev(&[("F", s(r"C:\Windows\abc\xy.exe"))]);
    assert!(!hits(
        "    sel:\n        F: 'C:\\Windows\\\\\\*\\x\\?.exe'\n    condition: sel",
        &other
    ));
    // `\\*`: a plain backslash, then a wildcard.
    assert!(hits(
        "    sel:\n        F: 'C:\\Windows\\\\*'\n    condition: sel",
        &other
    ));
    // A single backslash before an ordinary character is itself.
    assert!(hits(
        "    sel:\n        F|endswith: '\\xy.exe'\n    condition: sel",
        &other
    ));
    // Three or four backslashes are a double backslash.
    let unc = ev(&[("P", s(r"\\server\share"))]);
    assert!(hits(
        "    sel:\n        P: '\\\\\\\\server\\share'\n    condition: sel",
        &unc
    ));
    assert!(hits(
        "    sel:\n        P: '\\\\\\server\\share'\n    condition: sel",
        &unc
    ));
}

#[test]
fn contains_startswith_endswith_all_cased() {
    let e = ev(&[("CommandLine", s("powershell.exe -NoP -enc SQBFAFgA"))]);
    assert!(hits(
        "    sel:\n        CommandLine|contains: '-ENC '\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        CommandLine|startswith: 'PowerShell'\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        CommandLine|endswith: 'sqbfafga'\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        CommandLine|contains|all:\n            - '-nop'\n            - '-enc'\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        CommandLine|contains|all:\n            - '-nop'\n            - 'bypass'\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        CommandLine|contains:\n            - 'bypass'\n            - '-nop'\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        CommandLine|contains|cased: '-NoP'\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        CommandLine|contains|cased: '-nop'\n    condition: sel",
        &e
    ));
    assert!(!hits("    sel:\n        CommandLine|cased: 'POWERSHELL.EXE -NoP -enc SQBFAFgA'\n    condition: sel", &e));
}

#[test]
fn exists_null_and_empty() {
    let e = ev(&[("A", s("x")), ("Empty", s("")), ("Nul", Value::Null)]);
    assert!(hits(
        "    sel:\n        A|exists: true\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        B|exists: false\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        A|exists: false\n    condition: sel",
        &e
    ));
    // exists checks presence, whatever the value.
    assert!(hits(
        "    sel:\n        Nul|exists: true\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        Empty|exists: true\n    condition: sel",
        &e
    ));
    // null: absent or null.
    assert!(hits("    sel:\n        B: null\n    condition: sel", &e));
    assert!(hits("    sel:\n        Nul: null\n    condition: sel", &e));
    assert!(!hits("    sel:\n        A: null\n    condition: sel", &e));
    assert!(!hits(
        "    sel:\n        Empty: null\n    condition: sel",
        &e
    ));
    // '': an empty (or null) value, not an absent field.
    assert!(hits("    sel:\n        Empty: ''\n    condition: sel", &e));
    assert!(!hits("    sel:\n        A: ''\n    condition: sel", &e));
    assert!(!hits("    sel:\n        B: ''\n    condition: sel", &e));
    // not null, as the specification writes it.
    assert!(hits(
        "    sel:\n        A: 'x'\n    f:\n        A: null\n    condition: sel and not f",
        &e
    ));
}

#[test]
fn numbers_compare_as_numbers_or_text() {
    let e = ev(&[
        ("EventID", Value::Int(4688)),
        ("Port", s("0443")),
        ("Code", s("4625")),
    ]);
    assert!(hits(
        "    sel:\n        EventID: 4688\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        EventID: '4688'\n    condition: sel",
        &e
    ));
    assert!(hits("    sel:\n        Code: 4625\n    condition: sel", &e));
    assert!(hits("    sel:\n        Port: 443\n    condition: sel", &e));
    assert!(hits(
        "    sel:\n        EventID|startswith: 46\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        EventID: 4689\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        EventID:\n            - 1\n            - 4688\n    condition: sel",
        &e
    ));
}

#[test]
fn numeric_comparisons() {
    let e = ev(&[("Size", Value::Int(100)), ("Text", s("42"))]);
    assert!(hits(
        "    sel:\n        Size|gt: 99\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        Size|gt: 100\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        Size|gte: 100\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        Size|lt: 100.5\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        Size|lt: 100\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        Size|lte: 100\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        Text|gte: 42\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        Missing|lt: 1\n    condition: sel",
        &e
    ));
}

#[test]
fn neq() {
    let e = ev(&[("User", s("SYSTEM")), ("EventID", Value::Int(1))]);
    assert!(hits(
        "    sel:\n        User|neq: admin\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        User|neq: system\n    condition: sel",
        &e
    ));
    assert!(!hits("    sel:\n        User|neq:\n            - admin\n            - system\n    condition: sel", &e));
    assert!(hits(
        "    sel:\n        EventID|neq: 2\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        EventID|neq: 1\n    condition: sel",
        &e
    ));
}

#[test]
fn windash() {
    let det = "    sel:\n        CommandLine|contains|windash: ' -exec bypass'\n    condition: sel";
    for cl in [
        "x -exec bypass",
        "x /exec bypass",
        "x \u{2013}exec bypass",
        "x \u{2014}exec bypass",
        "x \u{2015}exec bypass",
    ] {
        assert!(hits(det, &ev(&[("CommandLine", s(cl))])), "{cl}");
    }
    assert!(!hits(det, &ev(&[("CommandLine", s("x +exec bypass"))])));
}

#[test]
fn regular_expressions_and_flags() {
    let e = ev(&[("CommandLine", s("Line one\nSECOND line"))]);
    assert!(hits(
        "    sel:\n        CommandLine|re: 'one\\s+SECOND'\n    condition: sel",
        &e
    ));
    // Case-sensitive unless i.
    assert!(!hits(
        "    sel:\n        CommandLine|re: 'second'\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        CommandLine|re|i: 'second'\n    condition: sel",
        &e
    ));
    // m: ^ and $ at line starts and ends.
    assert!(!hits(
        "    sel:\n        CommandLine|re: '^SECOND'\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        CommandLine|re|m: '^SECOND'\n    condition: sel",
        &e
    ));
    // s: . matches newlines.
    assert!(!hits(
        "    sel:\n        CommandLine|re: 'one.SECOND'\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        CommandLine|re|s: 'one.SECOND'\n    condition: sel",
        &e
    ));
    // A regex engine feature outside the supported flavour is a clear error.
    let engine = engine_with(
        &rule_text("    sel:\n        A|re: '(?<=x)y'\n    condition: sel"),
        &[],
    );
    assert_eq!(engine.errors().len(), 1);
    assert!(engine.errors()[0].reason.contains("regular expression"));
}

#[test]
fn base64_and_base64offset() {
    let e = ev(&[("CommandLine", s("echo L2Jpbi9zaA== | base64 -d"))]);
    assert!(hits(
        "    sel:\n        CommandLine|base64|contains: '/bin/sh'\n    condition: sel",
        &e
    ));
    // "Invoke-Mimikatz" inside a longer encoded string, at every offset.
    for pre in ["", "a", "ab"] {
        let enc = base64_std(format!("{pre}Invoke-Mimikatz -x").as_bytes());
        let e = ev(&[("CommandLine", s(&format!("powershell -enc {enc}")))]);
        assert!(
            hits("    sel:\n        CommandLine|base64offset|contains: 'Invoke-Mimikatz'\n    condition: sel", &e),
            "{pre}"
        );
    }
}

fn base64_std(b: &[u8]) -> String {
    use std::fmt::Write;
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    let _ = write!(out, "");
    out
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[test]
fn utf16_variants_with_base64() {
    // PowerShell -EncodedCommand is base64 of UTF-16LE.
    let enc = base64_std(&utf16le("IEX (New-Object Net.WebClient)"));
    let e = ev(&[("CommandLine", s(&format!("powershell -e {enc}")))]);
    assert!(hits("    sel:\n        CommandLine|wide|base64offset|contains: 'New-Object'\n    condition: sel", &e));
    assert!(hits("    sel:\n        CommandLine|utf16le|base64offset|contains: 'Net.WebClient'\n    condition: sel", &e));
    assert!(!hits("    sel:\n        CommandLine|wide|base64offset|contains: 'Net.WebClients'\n    condition: sel", &e));
    let be: Vec<u8> = "cmd".encode_utf16().flat_map(u16::to_be_bytes).collect();
    let e = ev(&[("Data", s(&base64_std(&be)))]);
    assert!(hits(
        "    sel:\n        Data|utf16be|base64: 'cmd'\n    condition: sel",
        &e
    ));
    let mut bom = vec![0xFF, 0xFE];
    bom.extend(utf16le("cmd"));
    let e = ev(&[("Data", s(&base64_std(&bom)))]);
    assert!(hits(
        "    sel:\n        Data|utf16|base64: 'cmd'\n    condition: sel",
        &e
    ));
    // Without base64, the UTF-16LE of ASCII text is the text with NULs.
    let e = ev(&[("Raw", s("c\0m\0d\0"))]);
    assert!(hits(
        "    sel:\n        Raw|utf16le: 'cmd'\n    condition: sel",
        &e
    ));
}

#[test]
fn time_parts() {
    let e = ev(&[
        ("UtcTime", s("2024-03-17 23:45:12.345")),
        ("T", s("2021-01-04T08:05:00+08:00")),
    ]);
    assert!(hits(
        "    sel:\n        UtcTime|hour: 23\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        UtcTime|minute: 45\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        UtcTime|day: 17\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        UtcTime|month: 3\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        UtcTime|year: 2024\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        UtcTime|week: 11\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        UtcTime|hour|gte: 22\n    condition: sel",
        &e
    ));
    // No zone conversion: the hour as written.
    assert!(hits("    sel:\n        T|hour: 8\n    condition: sel", &e));
    assert!(hits("    sel:\n        T|week: 1\n    condition: sel", &e));
    assert!(!hits(
        "    sel:\n        UtcTime|hour: 3\n    condition: sel",
        &e
    ));
}

#[test]
fn cidr_v4_and_v6() {
    let det4 = "    sel:\n        DestinationIp|cidr: 10.0.0.0/8\n    condition: sel";
    assert!(hits(det4, &ev(&[("DestinationIp", s("10.20.30.40"))])));
    assert!(!hits(det4, &ev(&[("DestinationIp", s("11.0.0.1"))])));
    assert!(hits(det4, &ev(&[("DestinationIp", s("::ffff:10.1.2.3"))])));
    assert!(!hits(det4, &ev(&[("DestinationIp", s("not an ip"))])));
    let det6 = "    sel:\n        DestinationIp|cidr:\n            - 'fe80::/10'\n            - '2001:db8::/32'\n    condition: sel";
    assert!(hits(det6, &ev(&[("DestinationIp", s("fe80::1%eth0"))])));
    assert!(hits(det6, &ev(&[("DestinationIp", s("2001:DB8:0:1::5"))])));
    assert!(!hits(det6, &ev(&[("DestinationIp", s("2001:db9::1"))])));
}

#[test]
fn expand_with_configured_placeholders() {
    let dir = std::env::temp_dir().join(format!("taishi-sigma-vars-{}.yml", std::process::id()));
    std::fs::write(
        &dir,
        "name: site\nvars:\n    Admins:\n        - 'adm_*'\n        - root\n    domain: corp\ntransformations:\n    - type: value_placeholders\n",
    )
    .unwrap();
    let text = rule_text("    sel:\n        User|expand: '%Admins%'\n    dom:\n        Cmd|contains|expand: '\\\\%domain%\\\\'\n    condition: sel or dom");
    let engine = engine_with(&text, &[dir.to_str().unwrap()]);
    assert!(engine.errors().is_empty(), "{:?}", engine.errors());
    let run = |e: &Event| {
        let mut out = Vec::new();
        engine.detect(e, &mut Scratch::new(), &mut out);
        !out.is_empty()
    };
    assert!(run(&ev(&[("User", s("adm_bob"))])));
    assert!(run(&ev(&[("User", s("ROOT"))])));
    assert!(!run(&ev(&[("User", s("bob"))])));
    assert!(run(&ev(&[("Cmd", s(r"net use \\corp\share"))])));
    // Without values the rule is reported as such, not silently dropped.
    let engine = engine_with(
        &rule_text("    sel:\n        User|expand: '%Nope%'\n    condition: sel"),
        &[],
    );
    assert_eq!(engine.errors().len(), 1);
    assert!(engine.errors()[0].placeholder);
    assert!(engine.errors()[0].reason.contains("%Nope%"));
    // Without `expand`, %x% is literal.
    assert!(hits(
        "    sel:\n        User: '%Nope%'\n    condition: sel",
        &ev(&[("User", s("%nope%"))])
    ));
    let _ = std::fs::remove_file(dir);
}

#[test]
fn fieldref() {
    let e = ev(&[
        ("User", s("CORP\\bob")),
        ("ParentUser", s("corp\\BOB")),
        ("Image", s(r"C:\x\a.exe")),
        ("TargetFilename", s(r"C:\x\a.exe.bak")),
    ]);
    assert!(hits(
        "    sel:\n        User|fieldref: ParentUser\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        User|fieldref|cased: ParentUser\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        Image|fieldref: TargetFilename\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        TargetFilename|fieldref|startswith: Image\n    condition: sel",
        &e
    ));
    assert!(hits(
        "    sel:\n        User|fieldref|neq: Image\n    condition: sel",
        &e
    ));
    assert!(!hits(
        "    sel:\n        User|fieldref: Missing\n    condition: sel",
        &e
    ));
}

#[test]
fn keywords_search_every_field_value() {
    let e = ev(&[
        ("Message", s("The service EvilService was installed")),
        ("Code", Value::Int(7045)),
    ]);
    assert!(hits("    keywords:\n        - 'evilservice'\n        - 'svchost.exe -n evil'\n    condition: keywords", &e));
    assert!(!hits(
        "    keywords:\n        - 'goodservice'\n    condition: keywords",
        &e
    ));
    // Numbers are searched as text; field names are not searched.
    assert!(hits("    keywords: 7045\n    condition: keywords", &e));
    assert!(!hits(
        "    keywords: 'Message'\n    condition: keywords",
        &e
    ));
    // '|all' joins keywords with and.
    assert!(hits("    keywords:\n        '|all':\n            - 'EvilService'\n            - 'installed'\n    condition: keywords", &e));
    assert!(!hits("    keywords:\n        '|all':\n            - 'EvilService'\n            - 'removed'\n    condition: keywords", &e));
    // Wildcards inside keywords.
    assert!(hits(
        "    keywords:\n        - 'service*installed'\n    condition: keywords",
        &e
    ));
}

#[test]
fn field_names_with_spaces_userdata_and_nesting() {
    // Defender writes `Threat Name`; rules write `ThreatName`.
    let e = ev(&[
        ("Threat Name", s("Virus:DOS/EICAR_Test_File")),
        ("Source Name", s("Real-Time Protection")),
    ]);
    assert!(hits("    sel:\n        ThreatName|endswith: 'EICAR_Test_File'\n        SourceName: 'Real-Time Protection'\n    condition: sel", &e));
    // A rule may also name the field with its space.
    assert!(hits(
        "    sel:\n        Threat Name|contains: 'eicar'\n    condition: sel",
        &e
    ));
    // UserData leaves are top-level fields in the Windows layout.
    let e = ev(&[
        ("EventID", Value::Int(1102)),
        ("SubjectUserName", s("admin")),
        ("UserData.SubjectUserName", s("admin")),
    ]);
    assert!(hits(
        "    sel:\n        SubjectUserName: admin\n    condition: sel",
        &e
    ));
    // Dotted names find nested objects.
    let e = ev(&[(
        "dns",
        Value::Object(vec![(
            "question".into(),
            Value::Object(vec![("name".into(), s("evil.example"))]),
        )]),
    )]);
    assert!(hits(
        "    sel:\n        dns.question.name|endswith: '.example'\n    condition: sel",
        &e
    ));
    // Lists: any element.
    let e = ev(&[("Hashes", Value::Array(vec![s("MD5=1"), s("SHA256=ABC")]))]);
    assert!(hits(
        "    sel:\n        Hashes|contains: 'sha256=abc'\n    condition: sel",
        &e
    ));
}

#[test]
fn lists_of_maps_and_map_semantics() {
    let e = ev(&[
        ("Image", s(r"C:\t\example.exe")),
        ("Description", s("other")),
    ]);
    let det = "    sel:\n        - Image|endswith: '\\example.exe'\n        - Description|contains: 'Test executable'\n    condition: sel";
    assert!(hits(det, &e));
    let e2 = ev(&[
        ("Image", s(r"C:\t\x.exe")),
        ("Description", s("A Test Executable")),
    ]);
    assert!(hits(det, &e2));
    // A map is AND.
    assert!(!hits("    sel:\n        Image|endswith: '\\example.exe'\n        Description: 'x'\n    condition: sel", &e));
}

#[test]
fn condition_forms() {
    let e = ev(&[("A", s("1")), ("B", s("2"))]);
    let base = "    selection_a:\n        A: 1\n    selection_b:\n        B: 2\n    selection_c:\n        C: 3\n    filter_x:\n        A: 9\n    _aux:\n        Z: 1\n";
    let with = |c: &str| format!("{base}    condition: {c}");
    assert!(hits(&with("1 of selection_*"), &e));
    assert!(!hits(&with("all of selection_*"), &e));
    assert!(hits(&with("1 of them"), &e));
    assert!(!hits(&with("all of them"), &e));
    // `them` skips identifiers starting with an underscore.
    let e_aux = ev(&[("A", s("1")), ("B", s("2")), ("C", s("3")), ("A2", s("x"))]);
    let all_but_filter = "    s1:\n        A: 1\n    s2:\n        B: 2\n    _aux:\n        Z: 1\n    condition: all of them";
    assert!(hits(all_but_filter, &e_aux));
    // not > and > or.
    assert!(hits(
        &with("selection_c or selection_a and not filter_x"),
        &e
    ));
    assert!(!hits(
        &with("(selection_c or selection_a) and not selection_b"),
        &e
    ));
    assert!(hits(&with("not selection_c and selection_a"), &e));
    assert!(!hits(&with("not (selection_a or selection_c)"), &e));
    assert!(hits(&with("1 of selection_* and not 1 of filter_*"), &e));
    assert!(hits(&with("2 of selection_*"), &e));
    assert!(!hits(&with("3 of selection_*"), &e));
    // A list of conditions is OR.
    assert!(hits(
        &format!("{base}    condition:\n        - selection_c\n        - selection_b"),
        &e
    ));
}

#[test]
fn meta_filters_apply_to_the_rules_they_name() {
    let mut set = RuleSet::default();
    set.add_yaml(
        &rule_text("    sel:\n        Image|endswith: '\\rar.exe'\n    condition: sel").replace(
            "product: test",
            "category: process_creation\n    product: windows",
        ),
        "rule.yml",
    );
    set.add_yaml(
        "title: Filter admins\nlogsource:\n    category: process_creation\n    product: windows\nfilter:\n    rules:\n        - 00000000-0000-0000-0000-000000000001\n    selection:\n        User|startswith: 'adm_'\n    condition: selection\n",
        "filter.yml",
    );
    set.apply_filters();
    assert!(set.rejected.is_empty(), "{:?}", set.rejected);
    assert_eq!(set.filters.len(), 1);
    let engine = Engine::with_profiles(&set.rules, &[Profile::from_args(&[]).unwrap()], false);
    let run = |e: &Event| {
        let mut out = Vec::new();
        engine.detect(e, &mut Scratch::new(), &mut out);
        out.len()
    };
    assert_eq!(
        run(&ev(&[("Image", s(r"C:\rar.exe")), ("User", s("bob"))])),
        1
    );
    assert_eq!(
        run(&ev(&[("Image", s(r"C:\rar.exe")), ("User", s("adm_bob"))])),
        0
    );
}

#[test]
fn multi_document_files_and_correlations() {
    let mut set = RuleSet::default();
    set.add_yaml(
        "action: global\ntitle: Base\nlogsource:\n    product: test\ndetection:\n    condition: sel\n---\nid: r1\ndetection:\n    sel:\n        A: 1\n---\naction: repeat\nid: r2\ndetection:\n    sel:\n        A: 2\n---\ntitle: Many\nname: many_rule\ncorrelation:\n    type: event_count\n    rules: [r1]\n    group-by: [A]\n    timespan: 1h\n    condition:\n        gte: 2\n",
        "multi.yml",
    );
    assert!(set.rejected.is_empty(), "{:?}", set.rejected);
    assert_eq!(set.rules.len(), 2);
    assert_eq!(set.rules[0].meta.title, "Base");
    assert_eq!(set.rules[1].meta.id.as_deref(), Some("r2"));
    assert_eq!(set.correlations.len(), 1);
    assert!(set.find("r2").is_some());
    // Bad documents are rejected with their reason, the rest still load.
    let mut set = RuleSet::default();
    set.add_yaml("title: x\nlogsource: {product: a}\ndetection:\n    sel:\n        A|bogus: 1\n    condition: sel\n", "bad.yml");
    assert_eq!(set.rejected.len(), 1);
    assert!(set.rejected[0].reason.contains("unknown modifier `bogus`"));
    set.add_yaml("title: y\nlogsource: {product: a}\ndetection:\n    sel:\n        A: 1\n    condition: sel and nothere\n", "bad2.yml");
    assert!(set.rejected[1].reason.contains("nothere"));
}

#[test]
fn windows_pipelines_dispatch_and_rename() {
    let text = "title: Whoami\nid: w1\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n    sel:\n        Image|endswith: '\\whoami.exe'\n    condition: sel\n";
    let engine = engine_with(text, &["windows"]);
    let run = |e: &Event| {
        let mut out = Vec::new();
        engine.detect(e, &mut Scratch::new(), &mut out);
        out.len()
    };
    let sysmon = ev(&[
        ("EventID", Value::Int(1)),
        ("Channel", s("Microsoft-Windows-Sysmon/Operational")),
        ("Image", s(r"C:\Windows\System32\whoami.exe")),
    ]);
    assert_eq!(run(&sysmon), 1);
    // Security 4688 names the image NewProcessName.
    let sec = ev(&[
        ("EventID", Value::Int(4688)),
        ("Channel", s("Security")),
        ("NewProcessName", s(r"C:\Windows\System32\whoami.exe")),
    ]);
    assert_eq!(run(&sec), 1);
    // Other event ids or channels do not reach the rule.
    let other = ev(&[
        ("EventID", Value::Int(3)),
        ("Channel", s("Microsoft-Windows-Sysmon/Operational")),
        ("Image", s(r"C:\whoami.exe")),
    ]);
    assert_eq!(run(&other), 0);
    let wrong_channel = ev(&[
        ("EventID", Value::Int(1)),
        ("Channel", s("Application")),
        ("Image", s(r"C:\whoami.exe")),
    ]);
    assert_eq!(run(&wrong_channel), 0);
    // ECS names (winlogbeat) through the ecs-windows profile.
    let engine = engine_with(text, &["ecs-windows"]);
    let mut out = Vec::new();
    let winlog = ev(&[
        ("winlog.event_id", Value::Int(1)),
        ("winlog.channel", s("Microsoft-Windows-Sysmon/Operational")),
        (
            "winlog.event_data.Image",
            s(r"C:\Windows\System32\whoami.exe"),
        ),
    ]);
    engine.detect(&winlog, &mut Scratch::new(), &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn default_profiles_route_by_layout_and_compile_ecs_on_first_use() {
    // The built-in profiles: EVTX layout and winlogbeat layout through one
    // engine; the ECS profile is compiled only when its first event comes,
    // from several threads at once.
    let text = "title: Whoami\nid: w1\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n    sel:\n        Image|endswith: '\\whoami.exe'\n        CommandLine|contains: '/all'\n    condition: sel\n";
    let r = rule_from_yaml(text).unwrap();
    let engine = Engine::with_profiles(&[r], &Profile::defaults().unwrap(), false);
    assert!(engine.errors().is_empty(), "{:?}", engine.errors());
    let evtx = ev(&[
        ("EventID", Value::Int(1)),
        ("Channel", s("Microsoft-Windows-Sysmon/Operational")),
        ("Image", s(r"C:\Windows\System32\whoami.exe")),
        ("CommandLine", s("whoami /all")),
    ]);
    let winlog = ev(&[
        ("winlog.event_id", Value::Int(1)),
        ("winlog.channel", s("Microsoft-Windows-Sysmon/Operational")),
        (
            "winlog.event_data.Image",
            s(r"C:\Windows\System32\whoami.exe"),
        ),
        ("winlog.event_data.CommandLine", s("whoami /all")),
    ]);
    let hits = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                sc.spawn(|| {
                    let mut scratch = Scratch::new();
                    let mut n = 0;
                    for e in [&evtx, &winlog, &evtx, &winlog] {
                        let mut out = Vec::new();
                        engine.detect(e, &mut scratch, &mut out);
                        n += out.len();
                    }
                    n
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum::<usize>()
    });
    assert_eq!(hits, 16);
    assert!(engine.late_errors().is_empty());
    assert!(engine.describe().contains("ecs-windows"));
}

#[test]
fn pipeline_errors_are_named() {
    let e = Pipeline::parse("name: x\ntransformations:\n    - type: magic\n", "p.yml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("magic") && e.contains("p.yml"), "{e}");
    assert!(Profile::from_args(&["no-such-pipeline".to_string()]).is_err());
}
