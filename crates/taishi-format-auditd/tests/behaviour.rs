//! Coalescing, interleaving, chunking, rejects and value decoding, on small
//! inputs of our own.

use proptest::prelude::*;
use taishi_event::{DecodeContext, Decoder, Event, Format, Value, VecSink};
use taishi_format_auditd::{probe, AuditdDecoder, STALE_AFTER_LINES};

const CURL: &str = r#"type=SYSCALL msg=audit(1490137971.011:50406): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd0c2a5a40 a2=10 a3=0 items=0 ppid=2027 pid=2030 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="curl" exe="/usr/bin/curl" key=(null)
type=SOCKADDR msg=audit(1490137971.011:50406): saddr=02000050D83AC08E0000000000000000
type=PROCTITLE msg=audit(1490137971.011:50406): proctitle=6375726C0068747470733A2F2F6578616D706C652E636F6D
type=EOE msg=audit(1490137971.011:50406):
"#;

fn run(chunks: &[&str]) -> VecSink {
    let ctx = DecodeContext::new("t", Format::Auditd);
    let mut d = AuditdDecoder::new();
    let mut sink = VecSink::default();
    let mut line = 1;
    for c in chunks {
        let mut ctx = ctx.clone();
        ctx.line_base = line;
        d.decode(c.as_bytes(), &ctx, &mut sink);
        line += c.lines().count() as u64;
    }
    d.finish(&ctx, &mut sink);
    sink
}

fn get<'a>(ev: &'a Event, k: &str) -> Option<&'a str> {
    ev.lookup(k).and_then(Value::as_str)
}

#[test]
fn connect_event_is_coalesced_and_normalised() {
    let sink = run(&[CURL]);
    assert!(sink.rejects.is_empty());
    assert_eq!(sink.events.len(), 1);
    let ev = &sink.events[0];
    assert_eq!(
        ev.timestamp.unwrap().to_rfc3339(),
        "2017-03-21T23:12:51.011+00:00"
    );
    assert_eq!(get(ev, "event.action"), Some("connected-to"));
    assert_eq!(get(ev, "event.outcome"), Some("success"));
    assert_eq!(get(ev, "auditd.syscall"), Some("connect"));
    assert_eq!(get(ev, "auditd.SYSCALL.syscall"), Some("42"));
    assert_eq!(get(ev, "destination.ip"), Some("216.58.192.142"));
    assert_eq!(ev.get("destination.port"), Some(&Value::UInt(80)));
    assert_eq!(get(ev, "process.title"), Some("curl https://example.com"));
    assert_eq!(get(ev, "process.name"), Some("curl"));
    assert_eq!(ev.get("process.pid"), Some(&Value::UInt(2030)));
    assert_eq!(ev.get("process.parent.pid"), Some(&Value::UInt(2027)));
    assert_eq!(get(ev, "user.audit.id"), Some("1000"));
    assert_eq!(get(ev, "user.id"), Some("0"));
    assert_eq!(get(ev, "auditd.summary.object.type"), Some("socket"));
    assert_eq!(ev.get("auditd.sequence"), Some(&Value::UInt(50406)));
    assert_eq!(get(ev, "event.module"), Some("auditd"));
    // key=(null) is absent, not the text "(null)".
    assert!(ev.lookup("auditd.SYSCALL.key").is_none());
    assert!(ev.get("tags").is_none());
}

#[test]
fn interleaved_events_are_kept_apart() {
    let input = "\
type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes exit=0 pid=10 comm=\"a\" exe=\"/bin/a\"
type=SYSCALL msg=audit(1.000:2): arch=c000003e syscall=2 success=no exit=-13 pid=20 comm=\"b\" exe=\"/bin/b\"
type=EXECVE msg=audit(1.000:1): argc=2 a0=\"ls\" a1=2D6C61206D7920646972
type=PATH msg=audit(1.000:2): item=0 name=\"/etc/shadow\" inode=5 dev=08:01 mode=0100640 ouid=0 ogid=42
type=EOE msg=audit(1.000:2):
type=EOE msg=audit(1.000:1):
";
    let sink = run(&[input]);
    assert!(sink.rejects.is_empty(), "{:?}", sink.rejects);
    assert_eq!(sink.events.len(), 2);
    let (open, exec) = (&sink.events[0], &sink.events[1]);
    assert_eq!(get(open, "event.action"), Some("opened-file"));
    assert_eq!(get(open, "event.outcome"), Some("failure"));
    assert_eq!(get(open, "file.path"), Some("/etc/shadow"));
    assert_eq!(get(open, "file.mode"), Some("0640"));
    assert_eq!(get(exec, "event.action"), Some("executed"));
    // a1 was hex-encoded because it holds spaces.
    assert_eq!(
        exec.get("process.args"),
        Some(&Value::from(vec!["ls", "-la my dir"]))
    );
    assert_eq!(get(exec, "process.command_line"), Some("ls -la my dir"));
}

#[test]
fn event_split_across_decode_calls() {
    let lines: Vec<&str> = CURL.split_inclusive('\n').collect();
    let first = lines[..2].concat();
    let second = lines[2..].concat();
    let sink = run(&[&first, &second]);
    assert_eq!(sink.events.len(), 1);
    assert_eq!(
        get(&sink.events[0], "process.title"),
        Some("curl https://example.com")
    );
    assert_eq!(
        get(&sink.events[0], "destination.ip"),
        Some("216.58.192.142")
    );
}

#[test]
fn events_without_eoe_are_flushed_by_finish_and_by_age() {
    // No EOE: held until finish.
    let one = "type=SYSCALL msg=audit(5.5:9): arch=c000003e syscall=59 success=yes pid=1\n";
    let ctx = DecodeContext::new("t", Format::Auditd);
    let mut d = AuditdDecoder::new();
    let mut sink = VecSink::default();
    d.decode(one.as_bytes(), &ctx, &mut sink);
    assert!(sink.events.is_empty());
    // Standalone user-space records are emitted at once, and after
    // STALE_AFTER_LINES more lines the waiting event is complete too.
    let mut more = String::new();
    for i in 0..=STALE_AFTER_LINES {
        more.push_str(&format!(
            "type=USER_LOGIN msg=audit(6.0:{}): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=10.0.0.9 terminal=ssh res=failed'\n",
            100 + i
        ));
    }
    d.decode(more.as_bytes(), &ctx, &mut sink);
    assert_eq!(sink.events.len() as u64, STALE_AFTER_LINES + 2);
    assert!(sink
        .events
        .iter()
        .any(|e| get(e, "event.action") == Some("executed")));
    let login = sink
        .events
        .iter()
        .find(|e| get(e, "event.action") == Some("logged-in"))
        .unwrap();
    assert_eq!(get(login, "event.outcome"), Some("failure"));
    assert_eq!(get(login, "user.name"), Some("root"));
    assert_eq!(get(login, "source.ip"), Some("10.0.0.9"));
    assert!(login.get("user.audit.id").is_none());
    d.finish(&ctx, &mut sink);
    assert_eq!(sink.events.len() as u64, STALE_AFTER_LINES + 2);
}

#[test]
fn malformed_record_is_rejected_with_its_line() {
    let input = format!("{CURL}this is not an audit record\ntype=UNKNOWN[1329] msg=?\n");
    let sink = run(&[&input]);
    assert_eq!(sink.events.len(), 1);
    assert_eq!(sink.rejects.len(), 2);
    assert_eq!(sink.rejects[0].location.line, Some(5));
    assert_eq!(sink.rejects[1].location.line, Some(6));
    assert_eq!(sink.rejects[0].raw, b"this is not an audit record");
    assert!(
        sink.rejects[1].reason.contains("msg=audit("),
        "{}",
        sink.rejects[1].reason
    );
}

#[test]
fn node_prefix_enriched_part_and_hex_values() {
    let input = "node=web-01 type=SYSCALL msg=audit(1700000000.123:77): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=42 auid=1000 uid=1000 euid=0 comm=\"sudo\" exe=2F7573722F62696E2F7375646F20287829 key=65786563017072697600\x1dARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"alice\" EUID=\"root\"\n\
node=web-01 type=CWD msg=audit(1700000000.123:77): cwd=\"/home/alice\"\n\
node=web-01 type=PATH msg=audit(1700000000.123:77): item=0 name=\"bin/tool\" inode=9 dev=fd:00 mode=0100755 ouid=0 ogid=0 nametype=NORMAL\n\
node=web-01 type=EOE msg=audit(1700000000.123:77):\n";
    let sink = run(&[input]);
    assert!(sink.rejects.is_empty(), "{:?}", sink.rejects);
    let ev = &sink.events[0];
    assert_eq!(get(ev, "host.name"), Some("web-01"));
    assert_eq!(get(ev, "process.executable"), Some("/usr/bin/sudo (x)"));
    assert_eq!(ev.get("tags"), Some(&Value::from(vec!["exec", "priv"])));
    assert_eq!(get(ev, "user.name"), Some("alice"));
    assert_eq!(get(ev, "user.audit.name"), Some("alice"));
    assert_eq!(get(ev, "user.effective.name"), Some("root"));
    assert_eq!(get(ev, "auditd.SYSCALL.EUID"), Some("root"));
    assert_eq!(get(ev, "file.path"), Some("/home/alice/bin/tool"));
    assert_eq!(get(ev, "process.working_directory"), Some("/home/alice"));
    // A quoted value is never hex-decoded, even if it looks like hex.
    let quoted = "type=USER_CMD msg=audit(1.0:5): pid=1 uid=0 auid=0 ses=1 msg='cwd=\"/\" cmd=\"4142\" terminal=pts/0 res=success'\n";
    let sink = run(&[quoted]);
    assert_eq!(get(&sink.events[0], "process.command_line"), Some("4142"));
    assert_eq!(get(&sink.events[0], "event.action"), Some("ran-command"));
}

#[test]
fn probe_claims_audit_logs_only() {
    assert!(probe(CURL.as_bytes()) >= 90);
    assert_eq!(
        probe(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed\n"),
        0
    );
    assert_eq!(probe(b"{\"a\":1}\n"), 0);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut sink = VecSink::default();
        let ctx = DecodeContext::new("p", Format::Auditd);
        let mut d = AuditdDecoder::new();
        d.decode(&data, &ctx, &mut sink);
        d.finish(&ctx, &mut sink);
        let _ = probe(&data);
    }

    #[test]
    fn arbitrary_record_bodies_never_panic(body in "[ -~\u{1d}]{0,200}") {
        let line = format!("type=SYSCALL msg=audit(1.5:1): {body}\n");
        let sink = run(&[&line]);
        prop_assert_eq!(sink.events.len() + sink.rejects.len(), 1);
    }

    /// Key/values written the way auditd writes them read back the same.
    #[test]
    fn formatted_records_round_trip(
        pairs in proptest::collection::btree_map("x[a-z]{1,8}", "[a-zA-Z0-9/._:-]{1,20}", 1..12),
        serial in 1u64..1_000_000,
    ) {
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let line = format!("type=USER_AUTH msg=audit(1700000000.5:{serial}): {}\n", body.join(" "));
        let sink = run(&[&line]);
        prop_assert_eq!(sink.events.len(), 1);
        let ev = &sink.events[0];
        prop_assert_eq!(ev.get("auditd.sequence"), Some(&Value::UInt(serial)));
        for (k, v) in &pairs {
            prop_assert_eq!(get(ev, &format!("auditd.USER_AUTH.{k}")), Some(v.as_str()));
        }
    }
}
