//! Firewall logs inside syslog (issue 13, item 7): one test per format,
//! with lines written from each vendor's documented layout (see
//! `src/firewall.rs` for the sources), and arbitrary input never panics.

mod common;

use common::{n, s};
use proptest::prelude::*;
use taishi_event::{DecodeContext, Decoder, Event, Format, Location, Value, VecSink};
use taishi_format_syslog::{parse_line, SyslogDecoder};

fn one(line: &str) -> Event {
    let mut c = DecodeContext::new("test", Format::Syslog);
    c.default_year = Some(2025);
    parse_line(line.as_bytes(), &c, Location::line(1, 0)).unwrap_or_else(|r| panic!("{line}: {r}"))
}

fn strs(e: &Event, k: &str) -> Vec<String> {
    match e.get(k) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        other => panic!("{k} is not an array: {other:?}"),
    }
}

/// Source, destination, ports and transport as one tuple, for brevity.
fn flow(e: &Event) -> (String, String, i64, i64, String) {
    (
        s(e, "source.ip").to_string(),
        s(e, "destination.ip").to_string(),
        n(e, "source.port"),
        n(e, "destination.port"),
        s(e, "network.transport").to_string(),
    )
}

fn tuple(
    src: &str,
    dst: &str,
    sport: i64,
    dport: i64,
    t: &str,
) -> (String, String, i64, i64, String) {
    (src.into(), dst.into(), sport, dport, t.into())
}

#[test]
fn ufw_block_to_a_c2_address() {
    let e = one(
        "<4>Mar  1 10:00:00 web01 kernel: [12345.678901] [UFW BLOCK] IN=eth0 OUT= \
         MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=10.0.0.8 DST=192.9.135.73 LEN=60 \
         TOS=0x00 PREC=0x00 TTL=64 ID=4321 DF PROTO=TCP SPT=51234 DPT=1194 WINDOW=64240 \
         RES=0x00 SYN URGP=0",
    );
    assert_eq!(
        flow(&e),
        tuple("10.0.0.8", "192.9.135.73", 51234, 1194, "tcp")
    );
    assert_eq!(s(&e, "event.action"), "block");
    assert_eq!(s(&e, "event.outcome"), "failure");
    assert_eq!(strs(&e, "event.category"), ["network"]);
    assert_eq!(strs(&e, "event.type"), ["connection", "denied"]);
    assert_eq!(s(&e, "observer.ingress.interface.name"), "eth0");
    assert!(
        !e.contains("observer.egress.interface.name"),
        "OUT= is empty"
    );
    assert_eq!(s(&e, "observer.product"), "ufw");
    assert_eq!(s(&e, "rule.name"), "UFW BLOCK");
    assert_eq!(s(&e, "iptables.TTL"), "64");
    assert_eq!(strs(&e, "iptables.tcp.flags"), ["SYN"]);
    assert_eq!(s(&e, "process.name"), "kernel");
}

#[test]
fn ufw_allow_and_audit_and_iptables_prefixes() {
    let e = one(
        "Mar  1 10:00:01 gw kernel: [UFW ALLOW] IN=eth1 OUT=eth0 SRC=10.0.0.9 DST=8.8.8.8 \
         LEN=64 PROTO=UDP SPT=40000 DPT=53 LEN=44",
    );
    assert_eq!(flow(&e), tuple("10.0.0.9", "8.8.8.8", 40000, 53, "udp"));
    assert_eq!(s(&e, "event.action"), "allow");
    assert_eq!(s(&e, "event.outcome"), "success");
    assert_eq!(s(&e, "observer.egress.interface.name"), "eth0");

    let e = one(
        "Mar  1 10:00:02 gw kernel: [UFW AUDIT] IN=eth1 OUT= SRC=10.0.0.9 DST=10.0.0.1 LEN=84 \
         PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ=1",
    );
    assert_eq!(s(&e, "event.action"), "audit");
    assert_eq!(s(&e, "network.transport"), "icmp");
    assert!(!e.contains("source.port"));

    // iptables' LOG target with an operator's own prefix.
    let e = one(
        "Mar  1 10:00:03 gw kernel: IPTABLES-DROP: IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 \
         LEN=40 PROTO=TCP SPT=4444 DPT=23 SYN",
    );
    assert_eq!(s(&e, "event.action"), "block");
    assert_eq!(s(&e, "observer.product"), "iptables");
    assert_eq!(s(&e, "rule.name"), "IPTABLES-DROP");
    let e = one(
        "Mar  1 10:00:04 gw kernel: IN=eth0 OUT= SRC=203.0.113.7 DST=198.51.100.2 LEN=40 PROTO=2",
    );
    assert_eq!(s(&e, "event.action"), "audit", "no prefix: only logged");
    assert_eq!(s(&e, "network.transport"), "igmp");
    assert!(!e.contains("rule.name"));
}

#[test]
fn huawei_usg_session_and_policy_logs() {
    // Session log, "default timestamp local" header (a space for the `T`).
    let e = one(
        "<190>2016-01-08 10:21:48 USG6000E %%01SECLOG/6/SESSION_BUILT(l):IPVer=4,Protocol=udp,\
         SourceIP=10.1.1.1,DestinationIP=10.1.1.2,SourcePort=1025,DestinationPort=53,\
         BeginTime=1452219708,SourceVpnID=0,DestinationVpnID=0.",
    );
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2016-01-08T10:21:48+00:00"
    );
    assert_eq!(s(&e, "host.name"), "USG6000E");
    assert_eq!(flow(&e), tuple("10.1.1.1", "10.1.1.2", 1025, 53, "udp"));
    assert_eq!(s(&e, "observer.vendor"), "Huawei");
    assert_eq!(s(&e, "observer.product"), "SECLOG");
    assert_eq!(s(&e, "event.code"), "SESSION_BUILT");
    assert_eq!(
        s(&e, "huawei.DestinationVpnID"),
        "0",
        "the closing `.` is dropped"
    );

    // Policy matching log: the action is in the mnemonic.
    let e = one(
        "<190>Mar  1 2025 10:00:00 USG6600 %%01POLICY/6/POLICYDENY(l):vsys=public, protocol=6, \
         source-ip=10.2.0.5, source-port=49152, destination-ip=192.9.135.73, \
         destination-port=443, time=2025/3/1 10:00:00, source-zone=trust, \
         destination-zone=untrust, rule-name=block-c2.",
    );
    assert_eq!(
        flow(&e),
        tuple("10.2.0.5", "192.9.135.73", 49152, 443, "tcp")
    );
    assert_eq!(s(&e, "event.action"), "block");
    assert_eq!(s(&e, "rule.name"), "block-c2");
    assert_eq!(s(&e, "observer.ingress.zone"), "trust");
    assert_eq!(s(&e, "observer.egress.zone"), "untrust");

    // A Huawei log that is not about traffic stays a plain syslog event.
    let e = one("<189>Mar  1 2025 10:00:00 USG6600 %%01SHELL/5/CMDRECORD(s):Recorded command.");
    assert!(!e.contains("event.category"));
}

#[test]
fn h3c_filter_and_session_logs() {
    let e = one(
        "<190>Mar  1 10:00:00 2025 F1070 %%10FILTER/6/FILTER_ZONE_IPV4_EXECUTION: \
         SrcZoneName(1025)=Trust;DstZoneName(1035)=Untrust;Type(1067)=ACL;\
         SecurityPolicy(1072)=Trust-Untrust;RuleID(1078)=2;Protocol(1001)=UDP;\
         Application(1002)=dns;SrcIPAddr(1003)=172.16.0.24;SrcPort(1004)=40012;\
         DstIPAddr(1007)=114.114.114.114;DstPort(1008)=53;MatchCount(1069)=1;Event(1048)=Permit;",
    );
    assert_eq!(
        flow(&e),
        tuple("172.16.0.24", "114.114.114.114", 40012, 53, "udp")
    );
    assert_eq!(s(&e, "observer.vendor"), "H3C");
    assert_eq!(s(&e, "event.action"), "allow");
    assert_eq!(s(&e, "rule.id"), "2");
    assert_eq!(s(&e, "rule.name"), "Trust-Untrust");
    assert_eq!(s(&e, "network.application"), "dns");
    assert_eq!(s(&e, "h3c.SrcZoneName"), "Trust");
    assert_eq!(s(&e, "event.code"), "FILTER_ZONE_IPV4_EXECUTION");

    let e = one(
        "<6>Mar  1 10:00:00 2025 FW1 %%10SESSION/6/SESSION_IPV4_FLOW: Protocol(1001)=TCP;\
         Application(1002)=http;SrcIPAddr(1003)=192.168.7.12;SrcPort(1004)=40912;\
         NatSrcIPAddr(1005)=203.0.113.88;NatSrcPort(1006)=9460;DstIPAddr(1007)=198.51.100.38;\
         DstPort(1008)=80;NatDstIPAddr(1009)=198.51.100.38;NatDstPort(1010)=80;\
         InitPktCount(1044)=3;InitByteCount(1046)=180;RplyPktCount(1045)=2;\
         RplyByteCount(1047)=120;Event(1048)=(8)Session created;",
    );
    assert_eq!(
        flow(&e),
        tuple("192.168.7.12", "198.51.100.38", 40912, 80, "tcp")
    );
    assert_eq!(s(&e, "source.nat.ip"), "203.0.113.88");
    assert_eq!(n(&e, "source.nat.port"), 9460);
    assert_eq!(
        (n(&e, "source.bytes"), n(&e, "destination.bytes")),
        (180, 120)
    );
    assert_eq!(
        (n(&e, "source.packets"), n(&e, "destination.packets")),
        (3, 2)
    );
    assert!(
        !e.contains("event.action"),
        "a created session says no verdict"
    );
}

#[test]
fn hillstone_session_logs() {
    let e = one(
        "<190>Nov 29 17:24:52 1404726150004842(root) 44243624 Traffic@FLOW: SESSION: \
         10.6.2.43:49608->192.168.20.160:11800(TCP), application TCP-ANY, interface tunnel6, \
         vr trust-vr, policy 1, user -@-, host -, send packets 1,send bytes 74,\
         receive packets 1,receive bytes 110,start time 2024-11-29 17:24:50,\
         close time 2024-11-29 17:24:52,session end,TCP RST",
    );
    assert_eq!(
        flow(&e),
        tuple("10.6.2.43", "192.168.20.160", 49608, 11800, "tcp")
    );
    assert_eq!(s(&e, "observer.vendor"), "Hillstone");
    assert_eq!(s(&e, "event.action"), "allow");
    assert_eq!(strs(&e, "event.type"), ["connection", "allowed", "end"]);
    assert_eq!(s(&e, "observer.ingress.interface.name"), "tunnel6");
    assert_eq!(s(&e, "rule.id"), "1");
    assert_eq!(s(&e, "network.application"), "TCP-ANY");
    assert_eq!(
        (n(&e, "source.bytes"), n(&e, "destination.bytes")),
        (74, 110)
    );
    assert!(!e.contains("user.name"), "`-@-` is nobody");

    let e = one(
        "<190>Aug  7 18:52:22 2812008195003847(root) 4424362f Traffic@FLOW: SESSION: \
         172.19.112.25:64141->10.11.183.156:445(TCP), interface ethernet0/1, vr trust-vr, \
         policy 16, user -@-, host -, mac 0000.0000.0000, policy deny",
    );
    assert_eq!(s(&e, "event.action"), "block");
    assert_eq!(s(&e, "destination.ip"), "10.11.183.156");
}

#[test]
fn topsec_access_control_logs() {
    let e = one(
        "<134>Nov 25 10:52:06 172.18.33.171 id=tos time=\"2024-11-25 10:52:06\" fw=TopsecOS  \
         pri=6 type=ac recorder=tos_fw_nat src=10.12.7.101 dst=192.9.135.73 sport=4048 \
         dport=1194 smac=00:e0:fc:86:54:0e dmac=00:90:fb:0e:dd:9f proto=tcp indev=eth5 \
         outdev=eth4 user= rule=deny connid=682102025 parentid=0 dpiid=0 natid=0 \
         policyid=8156 policyname=\"deny c2\" msg=\"null\"",
    );
    assert_eq!(
        flow(&e),
        tuple("10.12.7.101", "192.9.135.73", 4048, 1194, "tcp")
    );
    assert_eq!(s(&e, "observer.vendor"), "Topsec");
    assert_eq!(s(&e, "observer.name"), "TopsecOS");
    assert_eq!(s(&e, "event.action"), "block");
    assert_eq!(s(&e, "observer.ingress.interface.name"), "eth5");
    assert_eq!(s(&e, "observer.egress.interface.name"), "eth4");
    assert_eq!(s(&e, "rule.name"), "deny c2");
    assert_eq!(s(&e, "topsec.time"), "2024-11-25 10:52:06");
    assert!(!e.contains("user.name"));

    // A management record names no traffic: left as it was.
    let e = one(
        "<133>Nov 25 10:52:06 172.18.33.171 id=tos time=\"2024-11-25 10:52:06\" fw=TopsecOS \
         pri=5 type=mgmt user=superman src=192.168.152.30 result=0 recorder=config msg=\"x\"",
    );
    assert!(!e.contains("event.category"));
}

#[test]
fn sangfor_fwlog() {
    let e = one(
        "<134>Oct 27 04:06:27 localhost fwlog: 日志类型:服务控制或应用控制, 策略名称:web, \
         用户:(null), 源IP:113.231.38.30, 源端口:58006, 目的IP:10.1.0.11, 目的端口:80, \
         应用类型:访问网站, 应用名称:HTTP_GET, 系统动作:拒绝",
    );
    assert_eq!(s(&e, "source.ip"), "113.231.38.30");
    assert_eq!(s(&e, "destination.ip"), "10.1.0.11");
    assert_eq!(
        (n(&e, "source.port"), n(&e, "destination.port")),
        (58006, 80)
    );
    assert_eq!(s(&e, "observer.vendor"), "Sangfor");
    assert_eq!(s(&e, "event.action"), "block");
    assert_eq!(s(&e, "rule.name"), "web");
    assert_eq!(s(&e, "sangfor.日志类型"), "服务控制或应用控制");
    assert!(!e.contains("user.name"));
}

#[test]
fn generic_key_value_needs_both_addresses() {
    // The key names Qi An Xin, NSFOCUS and Venustech-style senders use;
    // no vendor is claimed.
    let e = one(
        "<134>Mar  1 10:00:00 fw01 devname=\"FW-A\" srcip=10.9.8.7 dstip=192.9.135.73 \
         srcport=5555 dstport=1194 proto=6 action=deny",
    );
    assert_eq!(
        flow(&e),
        tuple("10.9.8.7", "192.9.135.73", 5555, 1194, "tcp")
    );
    assert_eq!(s(&e, "event.action"), "block");
    assert_eq!(s(&e, "observer.name"), "FW-A");
    assert!(!e.contains("observer.vendor"));
    assert_eq!(s(&e, "firewall.srcip"), "10.9.8.7");

    // sudo's `KEY=value` words, or one address only: not a firewall log.
    let e = one(
        "Mar  1 10:00:00 host sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
    );
    assert!(!e.contains("observer.type"));
    let e = one("Mar  1 10:00:00 host app: src=10.0.0.1 note=hello");
    assert!(!e.contains("observer.type"));
}

#[test]
fn pairs_are_capped() {
    let mut line = String::from("Mar  1 10:00:00 fw01 app: ");
    for i in 0..1000 {
        line.push_str(&format!("k{i}=v "));
    }
    line.push_str("src=10.0.0.1 dst=10.0.0.2");
    let e = one(&line);
    // The addresses come after the cap: the line is not read as a flow.
    assert!(!e.contains("source.ip"));
    assert!(e.len() < 40, "{} fields", e.len());
}

/// A file of UFW lines through the decoder `taishi parse` uses.
#[test]
fn decoder_reads_a_ufw_file() {
    let data = b"Mar  1 10:00:00 web01 kernel: [UFW BLOCK] IN=eth0 OUT= SRC=10.0.0.8 DST=192.9.135.73 LEN=60 PROTO=TCP SPT=51234 DPT=1194 SYN\n\
Mar  1 10:00:01 web01 sshd[22]: Accepted password for bob from 10.0.0.8 port 5000 ssh2\n";
    let mut sink = VecSink::default();
    let mut ctx = DecodeContext::new("ufw.log", Format::Syslog);
    ctx.default_year = Some(2025);
    SyslogDecoder::new().decode(data, &ctx, &mut sink);
    assert!(sink.rejects.is_empty(), "{:?}", sink.rejects);
    assert_eq!(
        sink.events[0].get_str("destination.ip"),
        Some("192.9.135.73")
    );
    assert_eq!(sink.events[1].get_str("event.action"), Some("ssh_login"));
    assert!(!sink.events[1].contains("observer.type"));
}

fn fw_token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("IN=".to_string()),
        Just(" OUT=".to_string()),
        Just(" SRC=".to_string()),
        Just(" DST=".to_string()),
        Just("%%01".to_string()),
        Just("%%10".to_string()),
        Just("SESSION: ".to_string()),
        Just("->".to_string()),
        Just("(TCP)".to_string()),
        Just("id=tos ".to_string()),
        Just("日志类型:".to_string()),
        Just("源IP:".to_string()),
        Just("=\"".to_string()),
        Just("(1003)=".to_string()),
        Just("/6/".to_string()),
        Just(", ".to_string()),
        Just(";".to_string()),
        Just(":".to_string()),
        "[0-9.:a-f]{0,20}",
        "[a-zA-Z_]{0,8}=[^ ]{0,8}",
        any::<String>(),
    ]
}

proptest! {
    /// Lines built from the pieces the firewall readers look for, in any
    /// order, never panic; neither do arbitrary bytes after a kernel tag.
    #[test]
    fn firewall_lines_never_panic(
        parts in proptest::collection::vec(fw_token(), 0..40),
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let ctx = DecodeContext::new("p", Format::Syslog);
        let line = format!("<4>Mar  1 10:00:00 h kernel: {}", parts.concat());
        let _ = parse_line(line.as_bytes(), &ctx, Location::default());
        let line = format!("Mar  1 10:00:00 h fwlog: {}", parts.concat());
        let _ = parse_line(line.as_bytes(), &ctx, Location::default());
        let mut raw = b"<190>Mar  1 10:00:00 h %%10X/6/Y: ".to_vec();
        raw.extend_from_slice(&tail);
        let _ = parse_line(&raw, &ctx, Location::default());
    }
}
