//! The `taishi` pipeline against what the non-Windows decoders really emit:
//! real SigmaHQ rules and rules of our own, written in Sigma's taxonomy
//! field names, fire on the decoded samples (and on a few log lines of our
//! own where the samples hold no attack), and rules for another log source
//! stay silent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use taishi_event::{DecodeContext, Event, Format, VecSink};
use taishi_sigma::{Engine, EngineOptions, RuleSet, Scratch};

// ---- helpers ----

/// The whole SigmaHQ rule set (every `rules*` folder), loaded and compiled
/// once per test binary: it is the slow part.
fn sigmahq() -> Option<&'static (RuleSet, Engine)> {
    static SET: OnceLock<Option<(RuleSet, Engine)>> = OnceLock::new();
    SET.get_or_init(|| {
        let root = taishi_testdata::path("sigma")?;
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("rules"))
            })
            .collect();
        dirs.sort();
        let set = RuleSet::load_paths(&dirs).expect("SigmaHQ rules load");
        let engine = Engine::new(&set, &EngineOptions::default()).expect("SigmaHQ rules compile");
        Some((set, engine))
    })
    .as_ref()
}

/// An engine over rules of our own (YAML documents), with the default
/// profiles: the built-in `taishi` pipeline for these events.
fn own(rules: &[&str]) -> Engine {
    let mut set = RuleSet::default();
    for (i, r) in rules.iter().enumerate() {
        set.add_yaml(r, &format!("own-{i}.yml"));
    }
    assert!(set.rejected.is_empty(), "{:?}", set.rejected);
    let engine = Engine::new(&set, &EngineOptions::default()).expect("compile");
    assert!(engine.errors().is_empty(), "{:?}", engine.errors());
    assert!(
        engine.unmapped().is_empty(),
        "every rule here has a log source the pipeline maps"
    );
    engine
}

/// A rule in the taxonomy: `logsource` and `detection` as YAML text.
fn rule(id: u32, logsource: &str, detection: &str) -> String {
    format!(
        "title: own rule {id}\nid: 00000000-0000-0000-0000-{id:012}\nlevel: medium\nlogsource:\n{logsource}\ndetection:\n{detection}"
    )
}

/// Decodes a sample with the format named (the fail2ban samples carry
/// `# failJSON` label lines that defeat detection by content).
fn sample(rel: &str, format: Option<Format>) -> Option<Vec<Event>> {
    let path = taishi_testdata::path(rel)?;
    Some(decode_file(&path, format))
}

fn decode_file(path: &Path, format: Option<Format>) -> Vec<Event> {
    let opts = taishi_decode::Options {
        format,
        ..Default::default()
    };
    let (sink, report) = taishi_decode::decode_path(path, &opts);
    assert!(
        report.error.is_none(),
        "{}: {:?}",
        path.display(),
        report.error
    );
    sink.events
}

/// Decodes log lines of our own.
fn decode_text(text: &str, format: Format) -> Vec<Event> {
    let mut decoder = taishi_decode::new_decoder(format);
    let ctx = DecodeContext::new("inline", format);
    let mut sink = VecSink::default();
    decoder.decode(text.as_bytes(), &ctx, &mut sink);
    decoder.finish(&ctx, &mut sink);
    assert!(
        sink.rejects.is_empty(),
        "our own lines decode: {:?}",
        sink.rejects
    );
    sink.events
}

/// How often each rule (by id) fires over `events`.
fn fired(engine: &Engine, events: &[Event]) -> BTreeMap<String, usize> {
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    let mut counts = BTreeMap::new();
    for e in events {
        out.clear();
        engine.detect(e, &mut scratch, &mut out);
        for d in &out {
            *counts
                .entry(d.meta.id.clone().unwrap_or_else(|| d.meta.title.clone()))
                .or_insert(0) += 1;
        }
    }
    counts
}

fn hits(counts: &BTreeMap<String, usize>, id: &str) -> usize {
    counts.get(id).copied().unwrap_or(0)
}

fn own_id(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

/// The SigmaHQ rules that fire, with their log sources, for messages.
fn describe(counts: &BTreeMap<String, usize>) -> String {
    let Some((set, _)) = sigmahq() else {
        return format!("{counts:?}");
    };
    counts
        .iter()
        .map(|(id, n)| {
            let r = set.rules.iter().find(|r| r.meta.id.as_deref() == Some(id));
            match r {
                Some(r) => format!("{n}× {} [{}] {:?}\n", r.meta.title, id, r.meta.logsource),
                None => format!("{n}× {id}\n"),
            }
        })
        .collect()
}

/// No Windows rule may fire on a non-Windows event.
fn assert_no_windows_rule(counts: &BTreeMap<String, usize>) {
    let Some((set, _)) = sigmahq() else { return };
    for id in counts.keys() {
        if let Some(r) = set.rules.iter().find(|r| r.meta.id.as_deref() == Some(id)) {
            assert_ne!(
                r.meta.logsource.product.as_deref(),
                Some("windows"),
                "{}",
                describe(counts)
            );
        }
    }
}

// ---- auditd ----

const ADD_USER: &str = "759d0d51-bc99-4b5e-9add-8f5b2c8e7512"; // Creation Of An User Account
const PAM_KEYLOG: &str = "49aae26c-450e-448b-911d-b3c13d178dfc"; // Linux Keylogging with Pam.d
const BASE64_DECODE: &str = "e2072cab-8c9a-459b-b63c-40ae79e27031"; // Decode Base64 Encoded Text

#[test]
fn auditd_sigmahq_rules_fire_on_the_audit_logs() {
    let Some((_, engine)) = sigmahq() else { return };
    let Some(rhel7) = sample("host-logs/auditd/go-libaudit_audit-rhel7.log", None) else {
        return;
    };
    let counts = fired(engine, &rhel7);
    eprint!("rhel7:\n{}", describe(&counts));
    // type=ADD_USER (the record type, matched case-insensitively against
    // the decoder's `auditd.message_type`).
    assert_eq!(hits(&counts, ADD_USER), 1, "{}", describe(&counts));
    // type: [TTY, USER_TTY]: the three TTY records of the sample.
    assert_eq!(hits(&counts, PAM_KEYLOG), 3, "{}", describe(&counts));
    assert_no_windows_rule(&counts);

    for f in [
        "go-libaudit_audit-rhel6.log",
        "go-libaudit_audit-ubuntu16.log",
        "go-libaudit_test2.log",
        "go-libaudit_test3.log",
    ] {
        let Some(ev) = sample(&format!("host-logs/auditd/{f}"), None) else {
            return;
        };
        let counts = fired(engine, &ev);
        eprint!("{f}:\n{}", describe(&counts));
        assert_no_windows_rule(&counts);
    }
}

/// One execution as the kernel logs it: SYSCALL, EXECVE, CWD, PATH,
/// PROCTITLE and EOE sharing one serial.
const EXECVE_EVENT: &str = r#"type=SYSCALL msg=audit(1700000000.123:4242): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c0a0 a1=55d0c0b0 a2=55d0c0c0 a3=0 items=2 ppid=1000 pid=1001 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="base64" exe="/usr/bin/base64" key="exec_watch"
type=EXECVE msg=audit(1700000000.123:4242): argc=3 a0="base64" a1="-d" a2="/tmp/payload.b64"
type=CWD msg=audit(1700000000.123:4242): cwd="/home/alice"
type=PATH msg=audit(1700000000.123:4242): item=0 name="/usr/bin/base64" inode=1234 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL
type=PATH msg=audit(1700000000.123:4242): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=99 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL
type=PROCTITLE msg=audit(1700000000.123:4242): proctitle=626173653634002D64002F746D702F7061796C6F61642E623634
type=EOE msg=audit(1700000000.123:4242):
"#;

#[test]
fn auditd_execve_is_linux_process_creation() {
    let Some((_, engine)) = sigmahq() else { return };
    let ev = decode_text(EXECVE_EVENT, Format::Auditd);
    assert_eq!(ev.len(), 1);
    let counts = fired(engine, &ev);
    eprint!("{}", describe(&counts));
    // category: process_creation, product: linux — Image|endswith '/base64'
    // and CommandLine|contains '-d' through process.executable and
    // process.command_line.
    assert_eq!(hits(&counts, BASE64_DECODE), 1, "{}", describe(&counts));
    assert_no_windows_rule(&counts);
}

#[test]
fn auditd_own_rules_read_the_record_fields() {
    let auditd = "    product: linux\n    service: auditd";
    let engine = own(&[
        // SYSCALL record: syscall name, exe, comm, key.
        &rule(
            1,
            auditd,
            "    sel:\n        type: SYSCALL\n        SYSCALL: execve\n        exe|endswith: /base64\n        comm: base64\n        key: exec_watch\n    condition: sel",
        ),
        // EXECVE arguments by position.
        &rule(
            2,
            auditd,
            "    sel:\n        a0: base64\n        a1: '-d'\n        a2|startswith: '/tmp/'\n    condition: sel",
        ),
        // PATH name (first item, as file.path) and the working directory.
        &rule(
            3,
            auditd,
            "    sel:\n        name: /usr/bin/base64\n        cwd: /home/alice\n        euid: 1000\n    condition: sel",
        ),
        // Keywords search every value, nested records included.
        &rule(4, auditd, "    kw:\n        - 'payload.b64'\n    condition: kw"),
        // A value the event does not hold: silent.
        &rule(
            5,
            auditd,
            "    sel:\n        a0: curl\n    condition: sel",
        ),
    ]);
    let ev = decode_text(EXECVE_EVENT, Format::Auditd);
    let counts = fired(&engine, &ev);
    for n in 1..=4 {
        assert_eq!(hits(&counts, &own_id(n)), 1, "own rule {n}: {counts:?}");
    }
    assert_eq!(hits(&counts, &own_id(5)), 0);

    // On the real samples: a kernel module load (SYSCALL finit_module by
    // kmod) and the user-space USER_LOGIN failures of the SELinux sample.
    let engine = own(&[
        &rule(
            6,
            auditd,
            "    sel:\n        type: SYSCALL\n        SYSCALL: finit_module\n        exe: /usr/bin/kmod\n    condition: sel",
        ),
        &rule(
            7,
            auditd,
            "    sel:\n        type: USER_LOGIN\n        exe: /usr/sbin/sshd\n    condition: sel",
        ),
    ]);
    let Some(rhel7) = sample("host-logs/auditd/go-libaudit_audit-rhel7.log", None) else {
        return;
    };
    assert!(hits(&fired(&engine, &rhel7), &own_id(6)) >= 1);
    let Some(selinux) = sample(
        "host-logs/fail2ban/fail2ban_selinux-ssh.log",
        Some(Format::Auditd),
    ) else {
        return;
    };
    assert!(hits(&fired(&engine, &selinux), &own_id(7)) >= 1);
}

#[test]
fn auditd_rules_do_not_fire_on_other_sources() {
    // The same text as an auditd rule and as a syslog rule: each fires
    // only on its own source.
    let engine = own(&[
        &rule(
            1,
            "    product: linux\n    service: auditd",
            "    kw:\n        - 'base64'\n    condition: kw",
        ),
        &rule(
            2,
            "    product: linux\n    service: syslog",
            "    kw:\n        - 'base64'\n    condition: kw",
        ),
        &rule(
            3,
            "    product: windows\n    category: process_creation",
            "    sel:\n        Image|endswith: '/base64'\n    condition: sel",
        ),
    ]);
    let audit = fired(&engine, &decode_text(EXECVE_EVENT, Format::Auditd));
    assert_eq!(hits(&audit, &own_id(1)), 1);
    assert_eq!(hits(&audit, &own_id(2)), 0);
    assert_eq!(hits(&audit, &own_id(3)), 0);
    let sys = fired(
        &engine,
        &decode_text(
            "<86>1 2024-05-01T10:00:00Z host sudo - - - alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/base64 -d x\n",
            Format::Syslog,
        ),
    );
    assert_eq!(hits(&sys, &own_id(1)), 0);
    assert_eq!(hits(&sys, &own_id(2)), 1);
    assert_eq!(hits(&sys, &own_id(3)), 0);
}

// ---- syslog ----

const SUDO_CVE_2019_14287: &str = "7fcc54cb-f27d-4684-84b7-436af096f858";
const SSHD_SUSPICIOUS: &str = "e76b413a-83d0-4b94-8e4c-85db4a5b8bdc";
const PRIVILEGED_USER: &str = "0ac15ec3-d24f-4246-aa2a-3077bb1cf90e";

#[test]
fn syslog_sigmahq_rules_fire_on_auth_lines() {
    let Some((_, engine)) = sigmahq() else { return };
    // The samples hold no attack; these lines are the ones the rules
    // describe (the useradd line is the example in the rule's comments).
    let lines = "\
<86>1 2024-05-01T10:00:00Z web1 sudo - - - bob : TTY=pts/0 ; PWD=/home/bob ; USER=#-1 ; COMMAND=/usr/bin/id
<38>1 2024-05-01T10:00:01Z web1 sshd 4242 - - Corrupted MAC on input. [preauth]
<86>1 2024-05-01T10:00:02Z web1 useradd 1337 - - new user: name=john, UID=0, GID=0, home=/home/john, shell=/bin/bash
<86>1 2024-05-01T10:00:03Z web1 sudo - - - alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/base64 -d /tmp/x
";
    let ev = decode_text(lines, Format::Syslog);
    assert_eq!(ev.len(), 4);
    let counts = fired(engine, &ev);
    eprint!("{}", describe(&counts));
    // service: sudo, USER: '#-*' through the decoder's sudo fields.
    assert_eq!(
        hits(&counts, SUDO_CVE_2019_14287),
        1,
        "{}",
        describe(&counts)
    );
    // service: sshd keywords in the message.
    assert_eq!(hits(&counts, SSHD_SUSPICIOUS), 1);
    // product: linux keywords (`new user`, `UID=0,`).
    assert_eq!(hits(&counts, PRIVILEGED_USER), 1);
    // A sudo command is a process creation too.
    assert_eq!(hits(&counts, BASE64_DECODE), 1);
    assert_no_windows_rule(&counts);
}

#[test]
fn syslog_samples_fire_own_rules_per_service() {
    let engine = own(&[
        // sshd: failed logins, by the decoder's ECS fields and by keyword.
        &rule(
            1,
            "    product: linux\n    service: sshd",
            "    kw:\n        - 'Failed password'\n    condition: kw",
        ),
        &rule(
            2,
            "    product: linux\n    service: auth",
            "    sel:\n        event.outcome: failure\n        user.name: root\n    condition: sel",
        ),
        // sudo: USER= and COMMAND= by their sudo names.
        &rule(
            3,
            "    product: linux\n    service: sudo",
            "    sel:\n        USER: root\n        COMMAND|startswith: '/bin/cat'\n    condition: sel",
        ),
        // syslog: any program.
        &rule(
            4,
            "    product: linux\n    service: syslog",
            "    kw:\n        - 'denied'\n    condition: kw",
        ),
        // sshd keywords on a program that is not sshd: silent.
        &rule(
            5,
            "    product: linux\n    service: sshd",
            "    kw:\n        - 'query'\n    condition: kw",
        ),
        // PAM failures in sshd's fail2ban sample.
        &rule(
            6,
            "    product: linux\n    service: sshd",
            "    kw:\n        - 'PAM: Authentication failure'\n    condition: kw",
        ),
    ]);
    let Some(auth) = sample("host-logs/syslog/beats_system_auth_test.log", None) else {
        return;
    };
    let c = fired(&engine, &auth);
    assert!(hits(&c, &own_id(1)) >= 1, "{c:?}");
    assert!(hits(&c, &own_id(2)) >= 1, "{c:?}");
    assert_eq!(hits(&c, &own_id(3)), 1, "{c:?}");
    let Some(named) = sample(
        "host-logs/fail2ban/fail2ban_named-refused.log",
        Some(Format::Syslog),
    ) else {
        return;
    };
    let c = fired(&engine, &named);
    assert!(hits(&c, &own_id(4)) >= 5, "{c:?}");
    assert_eq!(hits(&c, &own_id(5)), 0, "named is not sshd");
    let Some(sshd) = sample("host-logs/fail2ban/fail2ban_sshd.log", Some(Format::Syslog)) else {
        return;
    };
    let c = fired(&engine, &sshd);
    assert!(hits(&c, &own_id(6)) >= 3, "{c:?}");
}

#[test]
fn syslog_sigmahq_set_is_quiet_on_benign_samples() {
    let Some((_, engine)) = sigmahq() else { return };
    for (rel, fmt) in [
        ("host-logs/syslog/beats_system_auth_test.log", None),
        ("host-logs/syslog/rfc3164_examples.log", None),
        ("host-logs/syslog/rfc5424_examples.log", None),
        (
            "host-logs/fail2ban/fail2ban_named-refused.log",
            Some(Format::Syslog),
        ),
    ] {
        let Some(ev) = sample(rel, fmt) else { return };
        assert!(!ev.is_empty(), "{rel}");
        let counts = fired(engine, &ev);
        eprint!("{rel}:\n{}", describe(&counts));
        assert_no_windows_rule(&counts);
        // Only sudo's benign commands may fire (as process creations).
        for id in counts.keys() {
            let (set, _) = sigmahq().expect("loaded");
            let r = set.rules.iter().find(|r| r.meta.id.as_deref() == Some(id));
            let ls = r.map(|r| &r.meta.logsource);
            assert!(
                ls.is_some_and(|l| l.product.as_deref() == Some("linux")),
                "{rel}: {}",
                describe(&counts)
            );
        }
    }
}

// ---- web access logs ----

const PATH_TRAVERSAL: &str = "7745c2ea-24a5-4290-b680-04359cb84b35";
const SOURCE_CODE_ENUM: &str = "953d460b-f810-420a-97a2-cfca4c98e602";

#[test]
fn webserver_sigmahq_rules_fire_on_access_lines() {
    let Some((_, engine)) = sigmahq() else { return };
    // The web-attacks samples' access lines are scans and RFI probes no
    // SigmaHQ rule describes; these are the attacks the rules do.
    let lines = r#"203.0.113.9 - - [01/May/2024:10:00:00 +0000] "GET /cgi-bin/../../../../../../etc/passwd HTTP/1.1" 400 226 "-" "curl/8.0"
203.0.113.9 - - [01/May/2024:10:00:01 +0000] "GET /.git/config HTTP/1.1" 404 196 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
203.0.113.9 - - [01/May/2024:10:00:02 +0000] "GET /index.html HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
"#;
    let ev = decode_text(lines, Format::Access);
    assert_eq!(ev.len(), 3);
    let counts = fired(engine, &ev);
    eprint!("{}", describe(&counts));
    // cs-uri-query|contains '../../../etc/' (SigmaHQ writes the whole
    // request target as cs-uri-query).
    assert_eq!(hits(&counts, PATH_TRAVERSAL), 1, "{}", describe(&counts));
    // Keyword '.git/' anywhere in the event.
    assert_eq!(hits(&counts, SOURCE_CODE_ENUM), 1);
    assert_no_windows_rule(&counts);
    // A bare `Mozilla/5.0` is a framework's user agent
    // (proxy_ua_frameworks); a browser's request for a page fires nothing.
    assert!(fired(engine, &ev[2..]).is_empty());
}

#[test]
fn web_samples_fire_own_rules_in_w3c_names() {
    let web = "    category: webserver";
    let proxy = "    category: proxy";
    let engine = own(&[
        &rule(
            1,
            web,
            "    sel:\n        cs-uri-query|contains: '/scripts/setup.php'\n        sc-status: 404\n        cs-method: GET\n    condition: sel",
        ),
        &rule(
            2,
            web,
            "    sel:\n        cs-uri-stem: '/index.php'\n        cs-uri-query|startswith: 'n=http://'\n        c-ip: 66.185.212.172\n    condition: sel",
        ),
        // Requests too broken for a URL are still web server events.
        &rule(
            3,
            web,
            "    sel:\n        sc-status: 400\n        cs-username: root\n    condition: sel",
        ),
        &rule(
            4,
            proxy,
            "    sel:\n        c-useragent|startswith: 'TrackBack/'\n        cs-method: POST\n        cs-referer|contains: 'mydomain.tld'\n    condition: sel",
        ),
        &rule(
            5,
            web,
            "    sel:\n        cs-user-agent|contains: 'MSIE 6.0'\n    condition: sel",
        ),
    ]);
    let fmt = Some(Format::Access);
    let Some(bots) = sample("host-logs/web-attacks/fail2ban_nginx-botsearch.log", fmt) else {
        return;
    };
    let c = fired(&engine, &bots);
    assert_eq!(hits(&c, &own_id(1)), 4, "{c:?}");
    let Some(fopen) = sample("host-logs/web-attacks/fail2ban_php-url-fopen.log", fmt) else {
        return;
    };
    let c = fired(&engine, &fopen);
    assert_eq!(hits(&c, &own_id(2)), 1, "{c:?}");
    assert_eq!(hits(&c, &own_id(5)), 1, "{c:?}");
    let Some(bad) = sample("host-logs/web-attacks/fail2ban_nginx-bad-request.log", fmt) else {
        return;
    };
    let c = fired(&engine, &bad);
    assert!(hits(&c, &own_id(3)) >= 2, "{c:?}");
    let Some(badbots) = sample("host-logs/web-attacks/fail2ban_apache-badbots.log", fmt) else {
        return;
    };
    let c = fired(&engine, &badbots);
    assert_eq!(hits(&c, &own_id(4)), 1, "{c:?}");
}

#[test]
fn web_rules_do_not_fire_on_other_sources() {
    let engine = own(&[
        &rule(
            1,
            "    category: webserver",
            "    kw:\n        - 'Failed password'\n    condition: kw",
        ),
        &rule(
            2,
            "    category: proxy",
            "    kw:\n        - 'Failed password'\n    condition: kw",
        ),
        &rule(
            3,
            "    product: linux\n    service: sshd",
            "    kw:\n        - 'setup.php'\n    condition: kw",
        ),
    ]);
    let Some(auth) = sample("host-logs/syslog/beats_system_auth_test.log", None) else {
        return;
    };
    assert!(fired(&engine, &auth).is_empty());
    let Some(bots) = sample(
        "host-logs/web-attacks/fail2ban_nginx-botsearch.log",
        Some(Format::Access),
    ) else {
        return;
    };
    assert!(fired(&engine, &bots).is_empty());
    // The whole SigmaHQ set on the real access lines: no Windows or Linux
    // rule fires on a web server event.
    let Some((set, sigma)) = sigmahq() else {
        return;
    };
    for f in [
        "fail2ban_nginx-botsearch.log",
        "fail2ban_php-url-fopen.log",
        "fail2ban_nginx-bad-request.log",
        "fail2ban_apache-badbots.log",
    ] {
        let Some(ev) = sample(&format!("host-logs/web-attacks/{f}"), Some(Format::Access)) else {
            return;
        };
        for id in fired(sigma, &ev).keys() {
            let r = set.rules.iter().find(|r| r.meta.id.as_deref() == Some(id));
            let cat = r.and_then(|r| r.meta.logsource.category.as_deref());
            assert!(matches!(cat, Some("webserver" | "proxy")), "{f}: {id}");
        }
    }
}

// ---- CEF / LEEF (firewalls) ----

const EQUATION_C2: &str = "881834a4-6659-4773-821e-1c151789d873";

#[test]
fn firewall_rules_fire_on_cef() {
    let Some((_, sigma)) = sigmahq() else { return };
    let line = "CEF:0|Check Point|VPN-1 & FireWall-1|R81|Log|Accept|Unknown|act=Accept src=10.1.1.5 spt=51515 dst=69.42.98.86 dpt=443 proto=6\n";
    let counts = fired(sigma, &decode_text(line, Format::Cef));
    // category: firewall, dst_ip → destination.ip.
    assert_eq!(hits(&counts, EQUATION_C2), 1, "{}", describe(&counts));
    assert_no_windows_rule(&counts);

    let fw = "    category: firewall";
    let engine = own(&[
        &rule(
            1,
            fw,
            "    sel:\n        src_ip: 192.168.101.100\n        dst_port: 443\n        action: Accept\n    condition: sel",
        ),
        &rule(
            2,
            fw,
            "    sel:\n        action: Drop\n        src_ip|cidr: 'fd00::/8'\n    condition: sel",
        ),
        // Web and Linux rules ignore firewall logs.
        &rule(
            3,
            "    category: webserver",
            "    kw:\n        - 'Check Point'\n    condition: kw",
        ),
        &rule(
            4,
            "    product: linux",
            "    kw:\n        - 'Check Point'\n    condition: kw",
        ),
    ]);
    let Some(ev) = sample("host-logs/cef/tenzir_checkpoint.cef.log", None) else {
        return;
    };
    let c = fired(&engine, &ev);
    assert_eq!(hits(&c, &own_id(1)), 1, "{c:?}");
    assert_eq!(hits(&c, &own_id(2)), 1, "{c:?}");
    assert_eq!(hits(&c, &own_id(3)), 0);
    assert_eq!(hits(&c, &own_id(4)), 0);
}

// ---- NetFlow / IPFIX ----

const NETFLOW_CLEARTEXT: &str = "7e4bfe58-4a47-4709-828d-d86c78b7cc1f";

#[test]
fn netflow_rules_fire_on_flows() {
    let Some((_, sigma)) = sigmahq() else { return };
    let Some(v9) = sample(
        "network/pcap/netflow/bitkeks_netflow_v9_2templates_8flows.bin",
        Some(Format::Netflow),
    ) else {
        return;
    };
    let counts = fired(sigma, &v9);
    eprint!("{}", describe(&counts));
    // service: netflow, destination.port 80 (three flows to port 80).
    assert_eq!(hits(&counts, NETFLOW_CLEARTEXT), 3, "{}", describe(&counts));
    assert_no_windows_rule(&counts);
    let Some(ipfix) = sample("network/pcap/netflow/100-IPFIXv10-CISCO.pcap", None) else {
        return;
    };
    let counts = fired(sigma, &ipfix);
    assert_eq!(hits(&counts, NETFLOW_CLEARTEXT), 7, "{}", describe(&counts));

    let engine = own(&[
        &rule(
            1,
            "    category: firewall",
            "    sel:\n        dst_port: 80\n        proto: udp\n    condition: sel",
        ),
        &rule(
            2,
            "    service: netflow",
            "    sel:\n        destination.port: 80\n    condition: sel",
        ),
        &rule(
            3,
            "    category: dns",
            "    sel:\n        dst_port: 80\n    condition: sel",
        ),
    ]);
    let c = fired(&engine, &ipfix);
    assert_eq!(hits(&c, &own_id(1)), 7, "{c:?}");
    assert_eq!(hits(&c, &own_id(2)), 7, "{c:?}");
    assert_eq!(hits(&c, &own_id(3)), 0, "flows are not DNS events");
    // A netflow rule does not fire on firewall CEF with the same port.
    let cef = decode_text(
        "CEF:0|Vendor|FW|1|1|Accept|3|act=accept src=10.0.0.1 dst=10.0.0.2 dpt=80 proto=17\n",
        Format::Cef,
    );
    let c = fired(&engine, &cef);
    assert_eq!(hits(&c, &own_id(1)), 1);
    assert_eq!(hits(&c, &own_id(2)), 0);
}

// ---- Zeek and Suricata ----

/// Zeek's and Suricata's decoders may still be placeholders; then there is
/// nothing to check yet.
fn decoded_or_skip(rel: &str, format: Format) -> Option<Vec<Event>> {
    let path = taishi_testdata::path(rel)?;
    let opts = taishi_decode::Options {
        format: Some(format),
        ..Default::default()
    };
    let (sink, _) = taishi_decode::decode_path(&path, &opts);
    if sink.events.is_empty() {
        eprintln!("SKIP {rel}: the {format:?} decoder produced no events");
        return None;
    }
    Some(sink.events)
}

#[test]
fn zeek_rules_fire_on_zeek_logs() {
    let Some(dns) = decoded_or_skip("network/zeek/wrccdc-tsv/dns.log", Format::Zeek) else {
        return;
    };
    let first_query = dns
        .iter()
        .find_map(|e| e.get_str("query").map(str::to_string))
        .expect("Zeek dns.log events keep Zeek's `query`");
    let engine = own(&[
        &rule(
            1,
            "    product: zeek\n    service: dns",
            &format!("    sel:\n        query: '{first_query}'\n    condition: sel"),
        ),
        &rule(
            2,
            "    category: dns",
            &format!("    sel:\n        query: '{first_query}'\n    condition: sel"),
        ),
        &rule(
            3,
            "    product: zeek\n    service: http",
            &format!("    sel:\n        query: '{first_query}'\n    condition: sel"),
        ),
    ]);
    let c = fired(&engine, &dns);
    assert!(hits(&c, &own_id(1)) >= 1, "{c:?}");
    assert!(
        hits(&c, &own_id(2)) >= 1,
        "category dns reads dns.question.name: {c:?}"
    );
    assert_eq!(hits(&c, &own_id(3)), 0, "dns.log is not http.log");
    if let Some((_, sigma)) = sigmahq() {
        assert_no_windows_rule(&fired(sigma, &dns));
    }
}

#[test]
fn suricata_rules_fire_on_eve() {
    let Some(eve) = decoded_or_skip("network/suricata/surevego_eve.json", Format::Eve) else {
        return;
    };
    let http = "    sel:\n        cs-host: deb.debian.org\n        c-useragent|startswith: 'Debian APT-HTTP/'\n        cs-method: GET\n        sc-status: 200\n        c-uri|endswith: '.deb'\n    condition: sel";
    let engine = own(&[
        &rule(
            1,
            "    product: suricata",
            "    sel:\n        event_type: alert\n    condition: sel",
        ),
        &rule(
            2,
            "    product: zeek",
            "    sel:\n        event_type: alert\n    condition: sel",
        ),
        // EVE dns records through the generic DNS names.
        &rule(
            3,
            "    category: dns",
            "    sel:\n        query: '_http._tcp.security.debian.org'\n        record_type: SRV\n    condition: sel",
        ),
        // EVE http records through the proxy names.
        &rule(4, "    category: proxy", http),
        // A sensor's view of HTTP is not a web server's own log.
        &rule(5, "    category: webserver", http),
    ]);
    let c = fired(&engine, &eve);
    assert_eq!(hits(&c, &own_id(1)), 68, "{c:?}");
    assert_eq!(hits(&c, &own_id(2)), 0);
    // The dns query records (alerts carrying DNS metadata are left out).
    assert!(hits(&c, &own_id(3)) >= 1, "{c:?}");
    assert!(hits(&c, &own_id(4)) >= 1, "{c:?}");
    // http records, and fileinfo records of the same transactions (they
    // carry its http metadata); never alerts.
    let transaction_records = eve
        .iter()
        .filter(|e| matches!(e.get_str("event_type"), Some("http" | "fileinfo")))
        .count();
    assert!(hits(&c, &own_id(4)) <= transaction_records, "{c:?}");
    let alerts_only: Vec<Event> = eve
        .iter()
        .filter(|e| e.get_str("event_type") == Some("alert"))
        .cloned()
        .collect();
    assert_eq!(hits(&fired(&engine, &alerts_only), &own_id(4)), 0);
    assert_eq!(hits(&c, &own_id(5)), 0);
    if let Some((_, sigma)) = sigmahq() {
        for rel in [
            "network/suricata/surevego_eve.json",
            "network/suricata/beats_eve-small.json",
        ] {
            let Some(ev) = decoded_or_skip(rel, Format::Eve) else {
                return;
            };
            let counts = fired(sigma, &ev);
            eprint!("{rel}:\n{}", describe(&counts));
            assert_no_windows_rule(&counts);
        }
    }
}

// ---- the pipeline as a whole ----

#[test]
fn every_linux_and_network_log_source_of_sigmahq_is_mapped() {
    let Some((set, engine)) = sigmahq() else {
        return;
    };
    let unmapped: Vec<String> = engine
        .unmapped()
        .iter()
        .filter_map(|&i| set.rules.get(i))
        .filter(|r| {
            let ls = &r.meta.logsource;
            ls.product.as_deref() == Some("linux")
                || ls.product.as_deref() == Some("zeek")
                || matches!(
                    ls.category.as_deref(),
                    Some("webserver" | "proxy" | "dns" | "firewall")
                )
                || ls.service.as_deref() == Some("netflow")
        })
        .map(|r| format!("{} {:?}", r.meta.path, r.meta.logsource))
        .collect();
    assert!(unmapped.is_empty(), "{unmapped:#?}");
}
