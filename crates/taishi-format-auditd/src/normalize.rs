//! Turns the records of one audit event into one `Event`: the records under
//! `auditd.<TYPE>` plus ECS fields and a go-libaudit-style summary
//! (actor / action / object / how).

use chrono::DateTime;
use taishi_event::{ecs, Event, Str, Value};

use crate::record::{hex_text, EventKey, Record};
use crate::syscalls;

/// Types that accompany a primary record and never carry the event's
/// meaning themselves.
const AUXILIARY: &[&str] = &[
    "EOE",
    "PROCTITLE",
    "CWD",
    "PATH",
    "EXECVE",
    "SOCKADDR",
    "BPRM_FCAPS",
    "MMAP",
    "OBJ_PID",
    "FD_PAIR",
    "IPC",
    "SOCKETCALL",
    "KERN_MODULE",
    "NETFILTER_PKT",
];

/// 4294967295 is `(uid_t)-1`: the login uid / session was never set.
const UNSET: &str = "4294967295";

fn unset(v: &str) -> &str {
    if v == UNSET {
        "unset"
    } else {
        v
    }
}

/// `arch=` as auditd writes it (the AUDIT_ARCH_* constant) → name.
pub fn arch_name(arch: &str) -> Option<&'static str> {
    Some(match arch.to_ascii_lowercase().as_str() {
        "c000003e" => "x86_64",
        "40000003" => "i386",
        "c00000b7" => "aarch64",
        "40000028" => "arm",
        "c0000016" => "s390x",
        "80000015" => "ppc64",
        "c0000015" => "ppc64le",
        "c00000f3" => "riscv64",
        "80000008" => "mips",
        _ => return None,
    })
}

/// Syscall number → name for the architecture auditd reported.
pub fn syscall_name(arch: &str, number: &str) -> Option<&'static str> {
    let n: usize = number.parse().ok()?;
    let table: &[&str] = match arch_name(arch)? {
        "x86_64" => &syscalls::X86_64,
        "i386" => &syscalls::I386,
        "aarch64" | "riscv64" => &syscalls::GENERIC,
        _ => return None,
    };
    table.get(n).copied().filter(|s| !s.is_empty())
}

#[derive(Clone, Copy, PartialEq)]
enum Object {
    None,
    File,
    Socket,
    System,
}

struct Meaning {
    action: &'static str,
    category: &'static [&'static str],
    kind: &'static [&'static str],
    object: Object,
}

const fn m(
    action: &'static str,
    category: &'static [&'static str],
    kind: &'static [&'static str],
    object: Object,
) -> Meaning {
    Meaning {
        action,
        category,
        kind,
        object,
    }
}

fn syscall_meaning(name: &str) -> Option<Meaning> {
    use Object::*;
    const FILE: &[&str] = &["file"];
    const PROC: &[&str] = &["process"];
    const NET: &[&str] = &["network"];
    const HOST: &[&str] = &["host"];
    const DRIVER: &[&str] = &["driver"];
    Some(match name {
        "execve" | "execveat" => m("executed", PROC, &["start"], File),
        "connect" => m("connected-to", NET, &["connection", "start"], Socket),
        "accept" | "accept4" => m(
            "accepted-connection-from",
            NET,
            &["connection", "start"],
            Socket,
        ),
        "bind" => m("bound-socket", NET, &["start"], Socket),
        "listen" => m("listen-for-connections", NET, &["start"], Socket),
        "sendto" | "sendmsg" | "sendmmsg" => m("sent-to", NET, &["info"], Socket),
        "recvfrom" | "recvmsg" | "recvmmsg" => m("received-from", NET, &["info"], Socket),
        "socket" => m("created-socket", NET, &["creation"], None),
        "open" | "openat" | "openat2" | "open_by_handle_at" => {
            m("opened-file", FILE, &["access"], File)
        }
        "creat" => m("opened-file", FILE, &["creation"], File),
        "read" | "pread64" | "readv" => m("read-file", FILE, &["access"], File),
        "write" | "pwrite64" | "writev" => m("wrote-to-file", FILE, &["change"], File),
        "truncate" | "ftruncate" => m("wrote-to-file", FILE, &["change"], File),
        "unlink" | "unlinkat" | "rmdir" => m("deleted", FILE, &["deletion"], File),
        "rename" | "renameat" | "renameat2" => m("renamed", FILE, &["change"], File),
        "mkdir" | "mkdirat" => m("created-directory", FILE, &["creation"], File),
        "mknod" | "mknodat" => m("make-device", FILE, &["creation"], File),
        "link" | "linkat" | "symlink" | "symlinkat" => m("linked", FILE, &["creation"], File),
        "chmod" | "fchmod" | "fchmodat" | "fchmodat2" => {
            m("changed-file-permissions-of", FILE, &["change"], File)
        }
        "chown" | "fchown" | "fchownat" | "lchown" => {
            m("changed-file-ownership-of", FILE, &["change"], File)
        }
        "setxattr" | "lsetxattr" | "fsetxattr" | "removexattr" | "lremovexattr"
        | "fremovexattr" => m("changed-file-attributes-of", FILE, &["change"], File),
        "utime" | "utimes" | "futimesat" | "utimensat" => {
            m("changed-timestamp-of", FILE, &["change"], File)
        }
        "mount" => m("mounted", FILE, &["creation"], File),
        "umount" | "umount2" => m("unmounted", FILE, &["deletion"], File),
        "init_module" | "finit_module" => m("loaded-kernel-module", DRIVER, &["start"], File),
        "delete_module" => m("unloaded-kernel-module", DRIVER, &["end"], File),
        "settimeofday" | "adjtimex" | "clock_settime" | "clock_adjtime" | "stime" => {
            m("changed-system-time", HOST, &["change"], System)
        }
        "sethostname" | "setdomainname" => m("changed-hostname", HOST, &["change"], System),
        "setuid" | "setreuid" | "setresuid" | "setfsuid" | "setgid" | "setregid" | "setresgid"
        | "setfsgid" => m("changed-identity-of", PROC, &["change"], None),
        "kill" | "tkill" | "tgkill" => m("killed-pid", PROC, &["end"], None),
        "ptrace" => m("traced", PROC, &["access"], None),
        "fork" | "vfork" | "clone" | "clone3" => m("forked", PROC, &["start"], None),
        "exit" | "exit_group" => m("exited", PROC, &["end"], None),
        "reboot" | "kexec_load" | "kexec_file_load" => m("rebooted", HOST, &["end"], System),
        _ => return Option::None,
    })
}

fn record_meaning(rtype: &str) -> Option<Meaning> {
    use Object::None;
    const AUTH: &[&str] = &["authentication"];
    const SESSION: &[&str] = &["session"];
    const IAM: &[&str] = &["iam"];
    const PROC: &[&str] = &["process"];
    const HOST: &[&str] = &["host"];
    const CONF: &[&str] = &["process", "configuration"];
    Some(match rtype {
        "USER_LOGIN" => m("logged-in", AUTH, &["start"], None),
        "USER_LOGOUT" => m("logged-out", AUTH, &["end"], None),
        "LOGIN" => m("changed-login-id-to", AUTH, &["start"], None),
        "USER_AUTH" => m("authenticated", AUTH, &["info"], None),
        "USER_ACCT" => m("was-authorized", AUTH, &["info"], None),
        "USER_ERR" => m("error", AUTH, &["info"], None),
        "CRED_ACQ" => m("acquired-credentials", AUTH, &["info"], None),
        "CRED_DISP" => m("disposed-credentials", AUTH, &["info"], None),
        "CRED_REFR" => m("refreshed-credentials", AUTH, &["info"], None),
        "USER_START" => m("started-session", SESSION, &["start"], None),
        "USER_END" => m("ended-session", SESSION, &["end"], None),
        "USER_CMD" => m("ran-command", PROC, &["start"], None),
        "USER_TTY" | "TTY" => m("typed", PROC, &["info"], None),
        "USER_CHAUTHTOK" => m("changed-password", IAM, &["user", "change"], None),
        "USER_ROLE_CHANGE" => m("changed-role-to", IAM, &["user", "change"], None),
        "USER_MGMT" => m("modified-user-account", IAM, &["user", "change"], None),
        "GRP_MGMT" => m("modified-group-account", IAM, &["group", "change"], None),
        "ADD_USER" => m("added-user-account", IAM, &["user", "creation"], None),
        "DEL_USER" => m("deleted-user-account", IAM, &["user", "deletion"], None),
        "ADD_GROUP" => m("added-group-account", IAM, &["group", "creation"], None),
        "DEL_GROUP" => m("deleted-group-account", IAM, &["group", "deletion"], None),
        "ACCT_LOCK" => m("locked-account", IAM, &["user", "change"], None),
        "ACCT_UNLOCK" => m("unlocked-account", IAM, &["user", "change"], None),
        "CONFIG_CHANGE" => m("changed-audit-configuration", CONF, &["change"], None),
        "USYS_CONFIG" => m("changed-configuration", CONF, &["change"], None),
        "DAEMON_START" => m("started-audit", PROC, &["start"], None),
        "DAEMON_END" => m("stopped-audit", PROC, &["end"], None),
        "DAEMON_ABORT" => m("aborted-audit-startup", PROC, &["end"], None),
        "DAEMON_CONFIG" => m("configured-audit", CONF, &["change"], None),
        "DAEMON_ROTATE" => m("rotated-audit-logs", PROC, &["change"], None),
        "DAEMON_RESUME" => m("resumed-audit-logging", PROC, &["change"], None),
        "SERVICE_START" => m("started-service", PROC, &["start"], None),
        "SERVICE_STOP" => m("stopped-service", PROC, &["end"], None),
        "SYSTEM_BOOT" => m("booted-system", HOST, &["start"], None),
        "SYSTEM_SHUTDOWN" => m("shutdown-system", HOST, &["end"], None),
        "SYSTEM_RUNLEVEL" => m("changed-to-runlevel", HOST, &["change"], None),
        "CRYPTO_KEY_USER" => m("negotiated-crypto-key", PROC, &["info"], None),
        "CRYPTO_SESSION" => m("started-crypto-session", PROC, &["info"], None),
        "AVC" | "USER_AVC" => m("violated-selinux-policy", PROC, &["access"], None),
        "SECCOMP" => m("violated-seccomp-policy", PROC, &["access"], None),
        "ANOM_ABEND" => m("crashed-program", PROC, &["end"], None),
        "ANOM_PROMISCUOUS" => m(
            "changed-promiscuous-mode-on-device",
            HOST,
            &["change"],
            None,
        ),
        "NETFILTER_CFG" => m("loaded-firewall-rule-to", CONF, &["change"], None),
        "MAC_STATUS" => m("changed-selinux-enforcement", CONF, &["change"], None),
        "MAC_POLICY_LOAD" => m("loaded-selinux-policy", CONF, &["change"], None),
        "KERN_MODULE" => m("loaded-kernel-module", &["driver"], &["start"], None),
        _ => return Option::None,
    })
}

fn outcome(rec: &Record) -> Option<&'static str> {
    let v = rec.get("success").or_else(|| rec.get("res"))?;
    match v {
        "yes" | "success" | "1" => Some("success"),
        "no" | "failed" | "fail" | "failure" | "0" => Some("fail"),
        _ => None,
    }
}

fn obj(fields: &[(Str, Str)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
            .collect(),
    )
}

/// EXECVE arguments in order; long ones come in chunks `aN[0]`, `aN[1]` …
/// of hex that are joined before decoding.
fn execve_args(rec: &Record) -> Vec<Value> {
    let argc: usize = rec.get("argc").and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut args = Vec::with_capacity(argc.min(256));
    let mut key = String::new();
    for i in 0..argc.min(4096) {
        key.clear();
        key.push_str(&format!("a{i}"));
        if let Some(v) = rec.get(&key) {
            args.push(Value::Str(v.into()));
            continue;
        }
        let prefix = format!("a{i}[");
        let hex: String = rec
            .fields
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.as_str())
            .collect();
        if hex.is_empty() {
            break;
        }
        args.push(Value::Str(hex_text(&hex).unwrap_or_else(|| hex.into())));
    }
    args
}

fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

pub(crate) fn build_event(key: &EventKey, records: &[Record]) -> Event {
    let mut ev = Event::with_capacity(48);
    ev.timestamp = DateTime::from_timestamp(key.secs, key.millis.saturating_mul(1_000_000))
        .map(|t| t.fixed_offset());

    let primary = records
        .iter()
        .find(|r| r.rtype == "SYSCALL")
        .or_else(|| {
            records
                .iter()
                .find(|r| !AUXILIARY.contains(&r.rtype.as_str()))
        })
        .or_else(|| records.first());
    let Some(primary) = primary else {
        return ev;
    };
    let find = |t: &str| records.iter().find(|r| r.rtype == t);
    let paths: Vec<&Record> = records.iter().filter(|r| r.rtype == "PATH").collect();
    // The file the event is about: the first PATH item the kernel could
    // resolve (it has an inode), else the first.
    let file_rec = paths
        .iter()
        .find(|r| r.get("inode").is_some())
        .or(paths.first())
        .copied();
    let cwd = find("CWD").and_then(|r| r.get("cwd"));
    let proctitle = find("PROCTITLE").and_then(|r| r.get("proctitle"));
    let execve = find("EXECVE");
    let sockaddr = find("SOCKADDR");
    let p = |k: &str| primary.get(k);

    let arch = p("arch");
    let syscall = match (arch, p("syscall")) {
        (Some(a), Some(s)) => syscall_name(a, s),
        _ => None,
    }
    // The enriched part names the syscall for architectures we lack.
    .or_else(|| p("SYSCALL"));
    let meaning = if primary.rtype == "SYSCALL" {
        syscall.and_then(syscall_meaning)
    } else {
        record_meaning(&primary.rtype)
    };
    let result = outcome(primary);

    ev.push(ecs::EVENT_MODULE, "auditd");
    ev.push(ecs::EVENT_DATASET, "auditd.log");
    ev.push(ecs::EVENT_KIND, "event");
    let action: Option<Str> = match &meaning {
        Some(m) => Some(m.action.into()),
        None if primary.rtype == "SYSCALL" => syscall.map(Str::from),
        None => Some(Str::from(primary.rtype.to_ascii_lowercase())),
    };
    if let Some(a) = &action {
        ev.push(ecs::EVENT_ACTION, a.clone());
    }
    if let Some(m) = &meaning {
        ev.push(ecs::EVENT_CATEGORY, Value::from(m.category.to_vec()));
        ev.push(ecs::EVENT_TYPE, Value::from(m.kind.to_vec()));
    }
    ev.push(
        ecs::EVENT_OUTCOME,
        match result {
            Some("success") => "success",
            Some(_) => "failure",
            None => "unknown",
        },
    );
    if let Some(node) = &key.node {
        ev.push(ecs::HOST_NAME, node.clone());
    }

    // The summary, as go-libaudit's aucoalesce builds it.
    ev.push("auditd.sequence", key.serial);
    ev.push("auditd.message_type", primary.rtype.to_ascii_lowercase());
    ev.push_some("auditd.result", result);
    ev.push_some("auditd.session", p("ses").map(unset));
    // A LOGIN record sets the login uid: its actor is the one before.
    let actor = if primary.rtype == "LOGIN" {
        p("old-auid")
            .or_else(|| p("old_auid"))
            .or_else(|| p("auid"))
    } else {
        p("auid")
    };
    ev.push_some("auditd.summary.actor.primary", actor.map(unset));
    let secondary = p("acct").or_else(|| p("id")).or_else(|| p("uid"));
    ev.push_some("auditd.summary.actor.secondary", secondary);
    if let Some(a) = &action {
        ev.push("auditd.summary.action", a.clone());
    }
    let (obj_type, obj_primary, obj_secondary) =
        summary_object(primary, &meaning, file_rec, sockaddr);
    ev.push_some("auditd.summary.object.type", obj_type);
    ev.push_some("auditd.summary.object.primary", obj_primary);
    ev.push_some("auditd.summary.object.secondary", obj_secondary);
    ev.push_some("auditd.summary.how", p("exe").or_else(|| p("comm")));
    if let Some(a) = arch {
        ev.push_some("auditd.arch", arch_name(a).unwrap_or(a));
    }
    ev.push_some("auditd.syscall", syscall.or_else(|| p("syscall")));

    // Users: uid, login (audit) uid, effective uid, with the enriched
    // names auditd adds after \x1d when present.
    ev.push_some(ecs::USER_ID, p("uid"));
    ev.push_some(ecs::USER_NAME, p("acct").or_else(|| p("UID")));
    if let Some(auid) = p("auid").filter(|a| *a != UNSET) {
        ev.push("user.audit.id", auid);
        ev.push_some("user.audit.name", p("AUID"));
    }
    ev.push_some("user.effective.id", p("euid"));
    ev.push_some("user.effective.name", p("EUID"));
    ev.push_some("user.saved.id", p("suid"));
    ev.push_some("user.filesystem.id", p("fsuid"));
    ev.push_some("group.id", p("gid"));
    ev.push_some("group.name", p("GID"));
    if primary.rtype == "LOGIN" {
        ev.push_some("user.target.id", p("auid").or_else(|| p("new_auid")));
    }

    // Process.
    ev.push_some(
        ecs::PROCESS_PID,
        p("pid").and_then(|v| v.parse::<u64>().ok()),
    );
    ev.push_some(
        ecs::PROCESS_PARENT_PID,
        p("ppid").and_then(|v| v.parse::<u64>().ok()),
    );
    ev.push_some(ecs::PROCESS_NAME, p("comm"));
    ev.push_some(ecs::PROCESS_EXECUTABLE, p("exe"));
    ev.push_some("process.working_directory", cwd.or_else(|| p("cwd")));
    ev.push_some("process.title", proctitle);
    if let Some(ex) = execve {
        let args = execve_args(ex);
        if !args.is_empty() {
            let line: Vec<&str> = args.iter().filter_map(Value::as_str).collect();
            ev.push(ecs::PROCESS_COMMAND_LINE, line.join(" "));
            ev.push("process.args_count", args.len());
            ev.push("process.args", Value::Array(args));
        }
    } else if let Some(cmd) = p("cmd") {
        ev.push(ecs::PROCESS_COMMAND_LINE, cmd);
    }
    if let Some(code) = p("exit").filter(|_| primary.rtype == "SYSCALL") {
        ev.push_some("process.exit_code", code.parse::<i64>().ok());
    }

    // File: as the summary object.
    if let Some(path) = file_rec {
        let name = path.get("name");
        let name = match (name, cwd) {
            (Some(n), Some(c)) if !n.starts_with('/') && !c.is_empty() => {
                Some(Str::from(format!("{}/{n}", c.trim_end_matches('/'))))
            }
            (n, _) => n.map(Str::from),
        };
        ev.push_some(ecs::FILE_PATH, name);
        ev.push_some("file.inode", path.get("inode"));
        ev.push_some("file.device", path.get("dev"));
        if let Some(mode) = path
            .get("mode")
            .and_then(|m| u32::from_str_radix(m, 8).ok())
        {
            ev.push("file.mode", format!("{:04o}", mode & 0o7777));
            ev.push_some("file.type", file_type(mode));
        }
        ev.push_some("file.uid", path.get("ouid"));
        ev.push_some("file.gid", path.get("ogid"));
    }

    // Network: SOCKADDR for socket syscalls, addr= for user-space messages.
    if let Some(sa) = sockaddr {
        if let (Some(addr), port) = (sa.get("addr"), sa.get("port")) {
            let remote_is_dest =
                matches!(syscall, Some("connect" | "sendto" | "sendmsg" | "sendmmsg"));
            let (ip, pt) = if remote_is_dest {
                (ecs::DESTINATION_IP, ecs::DESTINATION_PORT)
            } else {
                (ecs::SOURCE_IP, ecs::SOURCE_PORT)
            };
            ev.push(ip, addr);
            ev.push_some(pt, port.and_then(|p| p.parse::<u64>().ok()));
        } else if let Some(path) = sa.get("path") {
            ev.push("auditd.socket.path", path);
        }
    } else if let Some(addr) = p("addr").filter(|a| is_ip(a)) {
        ev.push(ecs::SOURCE_IP, addr);
        ev.push(ecs::NETWORK_DIRECTION, "ingress");
        if let Some(port) = p("rport").and_then(|v| v.parse::<u64>().ok()) {
            ev.push(ecs::SOURCE_PORT, port);
        }
    }

    // Rule keys → tags; several keys are joined by \x01.
    if let Some(k) = p("key") {
        let tags: Vec<Value> = k
            .split('\u{1}')
            .filter(|s| !s.is_empty())
            .map(Value::from)
            .collect();
        if !tags.is_empty() {
            ev.push("tags", Value::Array(tags));
        }
    }

    // Every record under auditd.<TYPE>; PATH is always an array (it repeats
    // by nature), any other type becomes one only when it repeats.
    let mut seen: Vec<&str> = Vec::new();
    for r in records {
        let t = r.rtype.as_str();
        if t == "EOE" || seen.contains(&t) {
            continue;
        }
        seen.push(t);
        let same: Vec<&Record> = records.iter().filter(|x| x.rtype == t).collect();
        let name = format!("auditd.{t}");
        if t == "PATH" || same.len() > 1 {
            ev.push(
                name,
                Value::Array(same.iter().map(|x| obj(&x.fields)).collect()),
            );
        } else {
            ev.push(name, obj(&r.fields));
        }
    }
    ev
}

fn file_type(mode: u32) -> Option<&'static str> {
    Some(match mode & 0o170000 {
        0o040000 => "dir",
        0o100000 => "file",
        0o120000 => "symlink",
        0o020000 => "char_device",
        0o060000 => "block_device",
        0o010000 => "fifo",
        0o140000 => "socket",
        _ => return None,
    })
}

type ObjectParts<'a> = (Option<&'static str>, Option<&'a str>, Option<&'a str>);

fn summary_object<'a>(
    primary: &'a Record,
    meaning: &Option<Meaning>,
    file: Option<&'a Record>,
    sockaddr: Option<&'a Record>,
) -> ObjectParts<'a> {
    let p = |k: &str| primary.get(k);
    let object = meaning.as_ref().map_or(Object::None, |m| m.object);
    match object {
        Object::File => return (Some("file"), file.and_then(|r| r.get("name")), None),
        Object::Socket => {
            let sa = sockaddr;
            return (
                Some("socket"),
                sa.and_then(|s| s.get("addr").or_else(|| s.get("path"))),
                sa.and_then(|s| s.get("port")),
            );
        }
        Object::System => return (Some("system"), None, None),
        Object::None => {}
    }
    match primary.rtype.as_str() {
        "CONFIG_CHANGE" => {
            let first_setting = primary
                .fields
                .iter()
                .find(|(k, _)| k.starts_with("audit_"))
                .map(|(_, v)| v.as_str());
            (Some("audit-config"), p("op").or(first_setting), None)
        }
        "LOGIN" => (
            Some("user-session"),
            p("auid").or_else(|| p("new_auid")),
            None,
        ),
        "CRYPTO_KEY_USER" => (Some("user-session"), p("fp"), p("addr")),
        "CRYPTO_SESSION" => (Some("user-session"), p("addr"), p("rport")),
        "SERVICE_START" | "SERVICE_STOP" => (Some("service"), p("unit"), None),
        "ADD_USER" | "DEL_USER" | "USER_MGMT" | "USER_CHAUTHTOK" | "ADD_GROUP" | "DEL_GROUP"
        | "GRP_MGMT" => (Some("account"), p("acct").or_else(|| p("id")), p("addr")),
        t if t.starts_with("USER_") || t.starts_with("CRED_") => (
            Some("user-session"),
            p("terminal").or_else(|| p("addr")),
            p("addr").or_else(|| p("hostname")),
        ),
        _ => (None, None, None),
    }
}
