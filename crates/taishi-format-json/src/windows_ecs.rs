//! ECS fields for Windows events, derived from the Windows layout (so the
//! evtx-style and the flat flavours get the same ones). The well-known
//! Sysmon and Security events get their process / user / network / file /
//! registry / dns fields; every event gets `event.*`, `host.name` and
//! `winlog.*`.

use std::net::IpAddr;

use taishi_event::{ecs, Event, Str, Value};

use crate::windows::{as_int, parse_int};

const SYSMON_PROVIDER: &str = "Microsoft-Windows-Sysmon";
const SECURITY_PROVIDER: &str = "Microsoft-Windows-Security-Auditing";

/// Text of a field, with Windows' placeholders for "none" treated as absent.
fn text<'e>(ev: &'e Event, name: &str) -> Option<&'e str> {
    match ev.get(name)? {
        Value::Str(s) => {
            let s = s.as_str();
            (!s.is_empty() && s != "-").then_some(s)
        }
        _ => None,
    }
}

/// An integer field given as a number, decimal text or `0x…` hex text.
fn int(ev: &Event, name: &str) -> Option<Value> {
    match ev.get(name)? {
        Value::Str(s) => parse_int(s),
        v => as_int(v),
    }
}

fn basename(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// Collects the ECS fields first and appends them afterwards: the event is
/// read while they are computed.
struct Out(Vec<(Str, Value)>);

impl Out {
    fn put(&mut self, name: &str, value: impl Into<Value>) {
        let v = value.into();
        match &v {
            Value::Null => {}
            Value::Str(s) if s.is_empty() => {}
            _ => self.0.push((Str::from(name), v)),
        }
    }
    fn text(&mut self, name: &str, ev: &Event, from: &str) {
        if let Some(s) = text(ev, from) {
            self.put(name, s);
        }
    }
    fn int(&mut self, name: &str, ev: &Event, from: &str) {
        if let Some(v) = int(ev, from) {
            self.put(name, v);
        }
    }
    fn path(&mut self, prefix: &str, ev: &Event, from: &str) {
        if let Some(p) = text(ev, from) {
            self.put(&format!("{prefix}.executable"), p);
            self.put(&format!("{prefix}.name"), basename(p));
        }
    }
    fn file(&mut self, ev: &Event, from: &str) {
        if let Some(p) = text(ev, from) {
            self.put(ecs::FILE_PATH, p);
            let name = basename(p);
            self.put(ecs::FILE_NAME, name);
            if p.len() > name.len() {
                let dir = &p[..p.len() - name.len()];
                self.put("file.directory", dir.trim_end_matches(['\\', '/']));
            }
            if let Some((_, ext)) = name.rsplit_once('.') {
                if !ext.is_empty() && ext.len() <= 16 {
                    self.put("file.extension", ext.to_ascii_lowercase());
                }
            }
        }
    }
    fn ip(&mut self, name: &str, ev: &Event, from: &str) {
        if let Some(s) = text(ev, from) {
            // `fe80::1%12` zone ids are not part of the address.
            let addr = s.split('%').next().unwrap_or(s);
            let addr = addr.strip_prefix("::ffff:").unwrap_or(addr);
            if let Ok(ip) = addr.parse::<IpAddr>() {
                self.put(name, ip);
            }
        }
    }
    fn port(&mut self, name: &str, ev: &Event, from: &str) {
        if let Some(p) = int(ev, from).and_then(|v| v.as_u64()) {
            if p > 0 && p <= 65535 {
                self.put(name, p);
            }
        }
    }
    /// `DOMAIN\user` into `user.domain` / `user.name`.
    fn account(&mut self, prefix: &str, ev: &Event, from: &str) {
        if let Some(s) = text(ev, from) {
            match s.split_once('\\') {
                Some((d, u)) => {
                    self.put(&format!("{prefix}.domain"), d);
                    self.put(&format!("{prefix}.name"), u);
                }
                None => self.put(&format!("{prefix}.name"), s),
            }
        }
    }
    fn user(&mut self, prefix: &str, ev: &Event, who: &str) {
        self.text(&format!("{prefix}.name"), ev, &format!("{who}UserName"));
        self.text(&format!("{prefix}.domain"), ev, &format!("{who}DomainName"));
        let sid = if who == "Target" {
            text(ev, "TargetUserSid").or_else(|| text(ev, "TargetSid"))
        } else {
            text(ev, &format!("{who}UserSid"))
        };
        if let Some(sid) = sid {
            self.put(&format!("{prefix}.id"), sid);
        }
    }
    /// Sysmon's `SHA1=…,MD5=…,SHA256=…,IMPHASH=…`.
    fn hashes(&mut self, prefix: &str, ev: &Event) {
        let Some(h) = text(ev, "Hashes").or_else(|| text(ev, "Hash")) else {
            return;
        };
        for part in h.split(',') {
            let Some((algo, value)) = part.split_once('=') else {
                continue;
            };
            let value = value.trim().to_ascii_lowercase();
            match algo.trim().to_ascii_uppercase().as_str() {
                "MD5" => self.put(&format!("{prefix}.hash.md5"), value),
                "SHA1" => self.put(&format!("{prefix}.hash.sha1"), value),
                "SHA256" => self.put(&format!("{prefix}.hash.sha256"), value),
                "IMPHASH" => self.put(&format!("{prefix}.pe.imphash"), value),
                _ => {}
            }
        }
    }
    fn category(&mut self, cat: &[&str], typ: &[&str]) {
        self.put(ecs::EVENT_CATEGORY, cat.to_vec());
        self.put(ecs::EVENT_TYPE, typ.to_vec());
    }
}

/// Appends the ECS fields of a Windows event already in the Windows layout.
pub(crate) fn add_ecs(ev: &mut Event) {
    let mut o = Out(Vec::with_capacity(32));
    let id = ev.get("EventID").and_then(Value::as_i64);
    let channel = text(ev, "Channel").unwrap_or("");
    let provider = text(ev, "Provider_Name").unwrap_or("");

    o.put(ecs::EVENT_KIND, "event");
    if let Some(id) = id {
        o.put(ecs::EVENT_CODE, id.to_string());
    }
    o.text(ecs::EVENT_PROVIDER, ev, "Provider_Name");
    let (module, dataset) = module_dataset(channel, provider);
    o.put(ecs::EVENT_MODULE, module);
    o.put(ecs::EVENT_DATASET, dataset);
    o.text(ecs::HOST_NAME, ev, "Computer");
    if let Some(level) = ev.get("Level").and_then(Value::as_i64) {
        let name = match level {
            1 => "critical",
            2 => "error",
            3 => "warning",
            0 | 4 => "information",
            5 => "verbose",
            _ => "",
        };
        o.put(ecs::LOG_LEVEL, name);
    }
    o.text("winlog.channel", ev, "Channel");
    o.text("winlog.provider_name", ev, "Provider_Name");
    o.text("winlog.provider_guid", ev, "Provider_Guid");
    o.text("winlog.computer_name", ev, "Computer");
    if let Some(id) = id {
        o.put("winlog.event_id", id.to_string());
    }
    o.int("winlog.record_id", ev, "EventRecordID");
    o.int("winlog.process.pid", ev, "ProcessID");
    o.int("winlog.process.thread.id", ev, "ThreadID");
    o.text("winlog.user.identifier", ev, "SecurityUserID");

    if let Some(id) = id {
        if provider == SYSMON_PROVIDER || channel == "Microsoft-Windows-Sysmon/Operational" {
            sysmon(&mut o, ev, id);
        } else if provider == SECURITY_PROVIDER || channel == "Security" {
            security(&mut o, ev, id);
        } else {
            other(&mut o, ev, id, provider);
        }
    }
    for (k, v) in o.0 {
        if !ev.contains(&k) {
            ev.push(k, v);
        }
    }
}

fn module_dataset(channel: &str, provider: &str) -> (&'static str, String) {
    match channel {
        "Microsoft-Windows-Sysmon/Operational" => ("sysmon", "windows.sysmon_operational".into()),
        "Security" => ("security", "windows.security".into()),
        "System" => ("system", "windows.system".into()),
        "Application" => ("application", "windows.application".into()),
        "Windows PowerShell" => ("powershell", "windows.powershell".into()),
        "Microsoft-Windows-PowerShell/Operational" => {
            ("powershell", "windows.powershell_operational".into())
        }
        _ if provider == SYSMON_PROVIDER => ("sysmon", "windows.sysmon_operational".into()),
        _ => {
            let mut ds = String::from("windows.");
            for c in channel.chars() {
                ds.push(if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                });
            }
            ("windows", ds)
        }
    }
}

/// The acting process of most Sysmon events.
fn sysmon_process(o: &mut Out, ev: &Event) {
    o.text("process.entity_id", ev, "ProcessGuid");
    o.int(ecs::PROCESS_PID, ev, "ProcessId");
    o.path("process", ev, "Image");
    o.account("user", ev, "User");
}

fn sysmon(o: &mut Out, ev: &Event, id: i64) {
    if let Some(rule) = text(ev, "RuleName") {
        o.put(ecs::RULE_NAME, rule);
    }
    let action = match id {
        1 => "process-created",
        2 => "file-creation-time-changed",
        3 => "network-connection",
        4 => "sysmon-service-state-changed",
        5 => "process-terminated",
        6 => "driver-loaded",
        7 => "image-loaded",
        8 => "create-remote-thread",
        9 => "raw-access-read",
        10 => "process-access",
        11 => "file-created",
        12 => "registry-object-added-or-deleted",
        13 => "registry-value-set",
        14 => "registry-object-renamed",
        15 => "file-stream-created",
        16 => "sysmon-configuration-change",
        17 => "pipe-created",
        18 => "pipe-connected",
        19 => "wmi-event-filter",
        20 => "wmi-event-consumer",
        21 => "wmi-event-consumer-to-filter",
        22 => "dns-query",
        23 => "file-deleted",
        24 => "clipboard-changed",
        25 => "process-tampering",
        26 => "file-deleted-detected",
        27 => "file-block-executable",
        28 => "file-block-shredding",
        29 => "file-executable-detected",
        255 => "error",
        _ => "",
    };
    o.put(ecs::EVENT_ACTION, action);
    match id {
        1 => {
            o.category(&["process"], &["start"]);
            sysmon_process(o, ev);
            o.text(ecs::PROCESS_COMMAND_LINE, ev, "CommandLine");
            o.text("process.working_directory", ev, "CurrentDirectory");
            o.text("process.parent.entity_id", ev, "ParentProcessGuid");
            o.int(ecs::PROCESS_PARENT_PID, ev, "ParentProcessId");
            o.path("process.parent", ev, "ParentImage");
            o.text(ecs::PROCESS_PARENT_COMMAND_LINE, ev, "ParentCommandLine");
            o.hashes("process", ev);
            o.text("process.pe.original_file_name", ev, "OriginalFileName");
            o.text("process.pe.company", ev, "Company");
            o.text("process.pe.product", ev, "Product");
            o.text("process.pe.description", ev, "Description");
            o.text("process.pe.file_version", ev, "FileVersion");
            o.text("winlog.logon.id", ev, "LogonId");
        }
        2 => {
            o.category(&["file"], &["change"]);
            sysmon_process(o, ev);
            o.file(ev, "TargetFilename");
        }
        3 => {
            o.category(&["network"], &["connection", "start"]);
            sysmon_process(o, ev);
            o.ip(ecs::SOURCE_IP, ev, "SourceIp");
            o.port(ecs::SOURCE_PORT, ev, "SourcePort");
            o.text("source.domain", ev, "SourceHostname");
            o.ip(ecs::DESTINATION_IP, ev, "DestinationIp");
            o.port(ecs::DESTINATION_PORT, ev, "DestinationPort");
            o.text("destination.domain", ev, "DestinationHostname");
            if let Some(p) = text(ev, "Protocol") {
                o.put(ecs::NETWORK_TRANSPORT, p.to_ascii_lowercase());
            }
            if let Some(init) = ev.get("Initiated").and_then(Value::to_text) {
                o.put(
                    ecs::NETWORK_DIRECTION,
                    if init.eq_ignore_ascii_case("true") {
                        "egress"
                    } else {
                        "ingress"
                    },
                );
            }
            if let Some(v6) = ev.get("SourceIsIpv6").and_then(Value::to_text) {
                o.put(
                    "network.type",
                    if v6.eq_ignore_ascii_case("true") {
                        "ipv6"
                    } else {
                        "ipv4"
                    },
                );
            }
        }
        5 => {
            o.category(&["process"], &["end"]);
            sysmon_process(o, ev);
        }
        6 => {
            o.category(&["driver"], &["start"]);
            o.file(ev, "ImageLoaded");
            o.hashes("file", ev);
            o.text("file.code_signature.subject_name", ev, "Signature");
            o.text("file.code_signature.status", ev, "SignatureStatus");
        }
        7 => {
            o.category(&["process"], &["change"]);
            sysmon_process(o, ev);
            o.file(ev, "ImageLoaded");
            o.hashes("file", ev);
            o.text("file.pe.original_file_name", ev, "OriginalFileName");
            o.text("file.pe.company", ev, "Company");
            o.text("file.pe.product", ev, "Product");
            o.text("file.pe.description", ev, "Description");
            o.text("file.pe.file_version", ev, "FileVersion");
            o.text("file.code_signature.subject_name", ev, "Signature");
            o.text("file.code_signature.status", ev, "SignatureStatus");
            if let Some(s) = ev.get("Signed").and_then(Value::to_text) {
                o.put("file.code_signature.signed", s.eq_ignore_ascii_case("true"));
            }
        }
        8 | 10 => {
            o.category(&["process"], &["access"]);
            let guid = if id == 8 {
                "SourceProcessGuid"
            } else {
                "SourceProcessGUID"
            };
            o.text("process.entity_id", ev, guid);
            o.int(ecs::PROCESS_PID, ev, "SourceProcessId");
            o.path("process", ev, "SourceImage");
            o.int("process.thread.id", ev, "SourceThreadId");
            o.account("user", ev, "SourceUser");
            let tguid = if id == 8 {
                "TargetProcessGuid"
            } else {
                "TargetProcessGUID"
            };
            o.text("process.target.entity_id", ev, tguid);
            o.int("process.target.pid", ev, "TargetProcessId");
            o.path("process.target", ev, "TargetImage");
        }
        9 => {
            o.category(&["file"], &["access"]);
            sysmon_process(o, ev);
            o.text(ecs::FILE_PATH, ev, "Device");
        }
        11 | 15 | 23 | 26 | 27 | 28 | 29 => {
            let typ = match id {
                11 | 15 => "creation",
                23 | 26 | 28 => "deletion",
                _ => "info",
            };
            o.category(&["file"], &[typ]);
            sysmon_process(o, ev);
            o.file(ev, "TargetFilename");
            o.hashes("file", ev);
        }
        12..=14 => {
            let typ = match text(ev, "EventType").unwrap_or("") {
                "CreateKey" => "creation",
                "DeleteKey" | "DeleteValue" => "deletion",
                _ => "change",
            };
            o.category(&["registry"], &[typ]);
            sysmon_process(o, ev);
            registry(o, ev, id == 13);
        }
        17 | 18 => {
            o.category(&["file"], &[if id == 17 { "creation" } else { "access" }]);
            sysmon_process(o, ev);
            o.text(ecs::FILE_NAME, ev, "PipeName");
        }
        22 => {
            o.category(&["network"], &["connection", "protocol", "info"]);
            o.put(ecs::NETWORK_PROTOCOL, "dns");
            sysmon_process(o, ev);
            o.text(ecs::DNS_QUESTION_NAME, ev, "QueryName");
            if let Some(r) = text(ev, "QueryResults") {
                let ips: Vec<Value> = r
                    .split(';')
                    .filter_map(|a| {
                        let a = a.trim();
                        let a = a.strip_prefix("::ffff:").unwrap_or(a);
                        a.parse::<IpAddr>().ok().map(Value::from)
                    })
                    .collect();
                if !ips.is_empty() {
                    o.put("dns.resolved_ip", Value::Array(ips));
                }
            }
        }
        24 | 25 => {
            o.category(&["process"], &["change"]);
            sysmon_process(o, ev);
        }
        _ => {}
    }
}

fn registry(o: &mut Out, ev: &Event, value_set: bool) {
    let Some(path) = text(ev, "TargetObject") else {
        return;
    };
    o.put("registry.path", path);
    let (hive, key) = match path.split_once('\\') {
        Some((h, k)) => (h, k),
        None => (path, ""),
    };
    let hive = match hive.to_ascii_uppercase().as_str() {
        "HKLM" | "HKEY_LOCAL_MACHINE" => "HKLM",
        "HKU" | "HKEY_USERS" => "HKU",
        "HKCU" | "HKEY_CURRENT_USER" => "HKCU",
        "HKCR" | "HKEY_CLASSES_ROOT" => "HKCR",
        _ => "",
    };
    if !hive.is_empty() {
        o.put("registry.hive", hive);
        let key = if value_set {
            key.rsplit_once('\\').map_or(key, |(k, _)| k)
        } else {
            key
        };
        o.put("registry.key", key);
    }
    if value_set {
        if let Some((_, value)) = path.rsplit_once('\\') {
            o.put("registry.value", value);
        }
        if let Some(d) = text(ev, "Details") {
            o.put("registry.data.strings", vec![d]);
            if let Some((ty, _)) = d.split_once(" (0x") {
                let ty = match ty {
                    "DWORD" => "SZ_DWORD",
                    "QWORD" => "SZ_QWORD",
                    _ => "",
                };
                o.put("registry.data.type", ty);
            }
        }
    }
}

fn security(o: &mut Out, ev: &Event, id: i64) {
    match id {
        4624 | 4625 | 4634 | 4647 => {
            let (typ, outcome, action) = match id {
                4624 => ("start", "success", "logged-in"),
                4625 => ("start", "failure", "logon-failed"),
                _ => ("end", "success", "logged-out"),
            };
            o.category(&["authentication"], &[typ]);
            o.put(ecs::EVENT_OUTCOME, outcome);
            o.put(ecs::EVENT_ACTION, action);
            o.user("user", ev, "Target");
            o.ip(ecs::SOURCE_IP, ev, "IpAddress");
            o.port(ecs::SOURCE_PORT, ev, "IpPort");
            o.text("source.domain", ev, "WorkstationName");
            o.text("winlog.logon.type", ev, "LogonType");
            if let Some(Value::Int(_) | Value::UInt(_)) = ev.get("LogonType") {
                o.int("winlog.logon.type", ev, "LogonType");
            }
            o.text("winlog.logon.id", ev, "TargetLogonId");
            o.text("winlog.logon.failure.status", ev, "Status");
            o.text("winlog.logon.failure.sub_status", ev, "SubStatus");
            o.path("process", ev, "ProcessName");
            o.int(ecs::PROCESS_PID, ev, "ProcessId");
        }
        4648 => {
            o.category(&["authentication"], &["start"]);
            o.put(ecs::EVENT_ACTION, "logged-in-explicit");
            o.user("user", ev, "Subject");
            o.user("user.effective", ev, "Target");
            o.ip(ecs::SOURCE_IP, ev, "IpAddress");
            o.port(ecs::SOURCE_PORT, ev, "IpPort");
            o.path("process", ev, "ProcessName");
            o.int(ecs::PROCESS_PID, ev, "ProcessId");
        }
        4672 => {
            o.category(&["iam"], &["admin"]);
            o.put(ecs::EVENT_ACTION, "logged-in-special");
            o.user("user", ev, "Subject");
        }
        4688 => {
            o.category(&["process"], &["start"]);
            o.put(ecs::EVENT_ACTION, "created-process");
            o.user("user", ev, "Subject");
            o.path("process", ev, "NewProcessName");
            o.int(ecs::PROCESS_PID, ev, "NewProcessId");
            o.text(ecs::PROCESS_COMMAND_LINE, ev, "CommandLine");
            o.path("process.parent", ev, "ParentProcessName");
            o.int(ecs::PROCESS_PARENT_PID, ev, "ProcessId");
        }
        4689 => {
            o.category(&["process"], &["end"]);
            o.put(ecs::EVENT_ACTION, "exited-process");
            o.user("user", ev, "Subject");
            o.path("process", ev, "ProcessName");
            o.int(ecs::PROCESS_PID, ev, "ProcessId");
        }
        4720 | 4722 | 4723 | 4724 | 4725 | 4726 | 4738 | 4740 | 4767 | 4781 => {
            let (typ, action) = match id {
                4720 => ("creation", "added-user-account"),
                4722 => ("change", "enabled-user-account"),
                4723 => ("change", "changed-password"),
                4724 => ("change", "reset-password"),
                4725 => ("change", "disabled-user-account"),
                4726 => ("deletion", "deleted-user-account"),
                4738 => ("change", "modified-user-account"),
                4740 => ("change", "locked-out-user-account"),
                4767 => ("change", "unlocked-user-account"),
                _ => ("change", "renamed-user-account"),
            };
            o.category(&["iam"], &["user", typ]);
            o.put(ecs::EVENT_ACTION, action);
            o.user("user", ev, "Subject");
            o.text("user.target.name", ev, "TargetUserName");
            o.text("user.target.domain", ev, "TargetDomainName");
            o.text("user.target.id", ev, "TargetSid");
        }
        4727 | 4728 | 4729 | 4730 | 4731 | 4732 | 4733 | 4734 | 4735 | 4737 | 4754 | 4755
        | 4756 | 4757 | 4758 => {
            let (typ, action) = match id {
                4727 | 4731 | 4754 => ("creation", "added-group-account"),
                4730 | 4734 | 4758 => ("deletion", "deleted-group-account"),
                4728 | 4732 | 4756 => ("change", "added-member-to-group"),
                4729 | 4733 | 4757 => ("change", "removed-member-from-group"),
                _ => ("change", "modified-group-account"),
            };
            o.category(&["iam"], &["group", typ]);
            o.put(ecs::EVENT_ACTION, action);
            o.user("user", ev, "Subject");
            o.text("group.name", ev, "TargetUserName");
            o.text("group.domain", ev, "TargetDomainName");
            o.text("group.id", ev, "TargetSid");
            o.text("user.target.id", ev, "MemberSid");
            if let Some(m) = text(ev, "MemberName") {
                // `CN=Name,OU=…`: the common name is the account.
                let cn = m
                    .strip_prefix("CN=")
                    .and_then(|r| r.split(',').next())
                    .unwrap_or(m);
                o.put("user.target.name", cn);
            }
        }
        4697 => {
            o.category(&["iam", "configuration"], &["admin", "change"]);
            o.put(ecs::EVENT_ACTION, "service-installed");
            o.user("user", ev, "Subject");
            o.text("service.name", ev, "ServiceName");
            o.text("service.type", ev, "ServiceType");
            o.text(ecs::PROCESS_COMMAND_LINE, ev, "ServiceFileName");
        }
        4698..=4702 => {
            let typ = match id {
                4698 => "creation",
                4699 => "deletion",
                _ => "change",
            };
            o.category(&["iam", "configuration"], &["admin", typ]);
            o.put(ecs::EVENT_ACTION, "scheduled-task");
            o.user("user", ev, "Subject");
        }
        1102 => {
            o.category(&["iam"], &["admin", "change"]);
            o.put(ecs::EVENT_ACTION, "audit-log-cleared");
            o.user("user", ev, "Subject");
        }
        5140 | 5145 => {
            o.category(&["network", "file"], &["access", "info"]);
            o.put(ecs::EVENT_ACTION, "network-share-object-access");
            o.user("user", ev, "Subject");
            o.ip(ecs::SOURCE_IP, ev, "IpAddress");
            o.port(ecs::SOURCE_PORT, ev, "IpPort");
            o.text(ecs::FILE_PATH, ev, "RelativeTargetName");
        }
        5156 | 5157 => {
            o.category(&["network"], &["connection"]);
            o.put(
                ecs::EVENT_OUTCOME,
                if id == 5156 { "success" } else { "failure" },
            );
            o.ip(ecs::SOURCE_IP, ev, "SourceAddress");
            o.port(ecs::SOURCE_PORT, ev, "SourcePort");
            o.ip(ecs::DESTINATION_IP, ev, "DestAddress");
            o.port(ecs::DESTINATION_PORT, ev, "DestPort");
            if let Some(p) = int(ev, "Protocol").and_then(|v| v.as_u64()) {
                let t = match p {
                    1 => "icmp",
                    6 => "tcp",
                    17 => "udp",
                    58 => "ipv6-icmp",
                    _ => "",
                };
                o.put(ecs::NETWORK_TRANSPORT, t);
            }
            o.text(ecs::PROCESS_EXECUTABLE, ev, "Application");
            o.int(ecs::PROCESS_PID, ev, "EventData.ProcessID");
        }
        _ => {
            if text(ev, "SubjectUserName").is_some() {
                o.user("user", ev, "Subject");
            }
        }
    }
}

fn other(o: &mut Out, ev: &Event, id: i64, provider: &str) {
    match (provider, id) {
        ("Service Control Manager", 7045) => {
            o.category(&["iam", "configuration"], &["admin", "change"]);
            o.put(ecs::EVENT_ACTION, "service-installed");
            o.text("service.name", ev, "ServiceName");
            o.text("service.type", ev, "ServiceType");
            o.text(ecs::PROCESS_COMMAND_LINE, ev, "ImagePath");
            o.text("user.name", ev, "AccountName");
        }
        ("Microsoft-Windows-Eventlog", 104) => {
            o.put(ecs::EVENT_ACTION, "audit-log-cleared");
            o.text("user.name", ev, "SubjectUserName");
            o.text("user.domain", ev, "SubjectDomainName");
        }
        ("Microsoft-Windows-PowerShell", 4104) => {
            o.put(ecs::EVENT_ACTION, "execute-remote-command");
            o.text("powershell.file.script_block_text", ev, "ScriptBlockText");
            o.text("powershell.file.script_block_id", ev, "ScriptBlockId");
            o.text(ecs::FILE_PATH, ev, "Path");
        }
        _ => {}
    }
}
