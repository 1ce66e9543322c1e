//! Synthetic events for benchmarks: a deterministic mix of Zeek-style
//! network connections, Windows process creations and sshd syslog lines,
//! skewed the way real traffic is (a few hosts and users do most of it).

use chrono::{DateTime, Utc};
use taishi_event::Event;

pub struct Rng(pub u64);
impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, no dependency.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Skewed pick: low indices far more often (like real traffic).
    pub fn skewed(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b).min(self.below(n))
    }
}

pub const USERS: [&str; 8] = [
    "SYSTEM",
    "admin",
    "alice",
    "bob",
    "carol",
    "svc_backup",
    "LOCAL SERVICE",
    "dave",
];
pub const IMAGES: [&str; 6] = [
    "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
    "C:\\Windows\\explorer.exe",
    "C:\\Windows\\System32\\rundll32.exe",
];

pub fn ip4(r: &mut Rng, net: &str, hosts: u64) -> String {
    let h = r.skewed(hosts);
    format!("{net}.{}.{}", h / 250, h % 250 + 1)
}

pub fn network(r: &mut Rng, ts: DateTime<Utc>, n: u64) -> Event {
    let mut e = Event::with_capacity(26);
    e.timestamp = Some(ts.fixed_offset());
    let (proto, port) = [
        ("dns", 53u16),
        ("tls", 443),
        ("http", 80),
        ("ssh", 22),
        ("smb", 445),
    ][r.skewed(5) as usize];
    let src = ip4(r, "10.1", 5000);
    let dst = if r.below(3) == 0 {
        ip4(r, "192.168", 400)
    } else {
        format!(
            "{}.{}.{}.{}",
            r.below(223) + 1,
            r.below(256),
            r.below(256),
            r.below(254) + 1
        )
    };
    let sport = 1024 + r.below(60000);
    let ob = r.skewed(200_000);
    let rb = r.skewed(2_000_000);
    e.push("ts", ts.timestamp() as f64 + 0.123);
    e.push("uid", format!("C{:016x}", r.next()));
    e.push("id.orig_h", src.as_str());
    e.push("id.orig_p", sport);
    e.push("id.resp_h", dst.as_str());
    e.push("id.resp_p", port);
    e.push("proto", if port == 53 { "udp" } else { "tcp" });
    e.push("service", proto);
    e.push("duration", r.below(100_000) as f64 / 1000.0);
    e.push("orig_bytes", ob);
    e.push("resp_bytes", rb);
    e.push(
        "conn_state",
        ["SF", "S0", "REJ", "RSTO"][r.skewed(4) as usize],
    );
    e.push("history", "ShADadFf");
    e.push("event.kind", "event");
    e.push("event.category", "network");
    e.push("event.dataset", "zeek.conn");
    e.push("source.ip", src);
    e.push("source.port", sport);
    e.push("destination.ip", dst);
    e.push("destination.port", port);
    e.push("network.transport", if port == 53 { "udp" } else { "tcp" });
    e.push("network.protocol", proto);
    e.push("network.bytes", ob + rb);
    e.push("network.community_id", format!("1:{:x}", r.next()));
    e.push("observer.name", format!("sensor-{:02}", n % 7));
    e
}

pub fn windows(r: &mut Rng, ts: DateTime<Utc>, n: u64) -> Event {
    let mut e = Event::with_capacity(28);
    e.timestamp = Some(ts.fixed_offset());
    let host = format!("WS{:04}.corp.example", r.skewed(800));
    let user = USERS[r.skewed(USERS.len() as u64) as usize];
    let image = IMAGES[r.skewed(IMAGES.len() as u64) as usize];
    let (id, channel) = if r.below(2) == 0 {
        (4688i64, "Security")
    } else {
        (1, "Microsoft-Windows-Sysmon/Operational")
    };
    let pid = 1000 + r.below(60000);
    let cmd = match r.below(4) {
        0 => format!("{image} -k netsvcs -p -s Schedule"),
        1 => format!(
            "\"{image}\" /c whoami /all > C:\\Users\\{user}\\AppData\\Local\\Temp\\out{}.txt",
            r.below(1000)
        ),
        2 => format!("{image} -nop -w hidden -enc {:x}{:x}", r.next(), r.next()),
        _ => format!("{image} shell32.dll,Control_RunDLL {}", r.below(100)),
    };
    e.push("EventID", id);
    e.push("Channel", channel);
    e.push("Computer", host.as_str());
    e.push(
        "Provider_Name",
        if id == 1 {
            "Microsoft-Windows-Sysmon"
        } else {
            "Microsoft-Windows-Security-Auditing"
        },
    );
    e.push("EventRecordID", n);
    e.push("Level", 4);
    e.push("Task", 13312);
    e.push("ProcessID", 4);
    e.push("ThreadID", 100 + r.below(9000));
    e.push("Image", image);
    e.push("CommandLine", cmd.as_str());
    e.push("ParentImage", IMAGES[r.below(IMAGES.len() as u64) as usize]);
    e.push("User", format!("CORP\\{user}"));
    e.push(
        "IntegrityLevel",
        ["Medium", "High", "System"][r.skewed(3) as usize],
    );
    e.push(
        "Hashes",
        format!("SHA256={:016X}{:016X}", r.next(), r.next()),
    );
    e.push("event.code", id.to_string());
    e.push("event.category", "process");
    e.push("event.type", "start");
    e.push("host.name", host);
    e.push("user.name", user);
    e.push("user.domain", "CORP");
    e.push("process.pid", pid);
    e.push("process.executable", image);
    e.push("process.command_line", cmd);
    e.push("process.parent.pid", 1000 + r.below(60000));
    e.push("winlog.channel", channel);
    e.push(
        "event.dataset",
        if id == 1 {
            "windows.sysmon_operational"
        } else {
            "system.security"
        },
    );
    e
}

pub fn syslog(r: &mut Rng, ts: DateTime<Utc>, n: u64) -> Event {
    let mut e = Event::with_capacity(14);
    e.timestamp = Some(ts.fixed_offset());
    let host = format!("srv{:03}", r.skewed(200));
    let user = USERS[r.skewed(USERS.len() as u64) as usize];
    let src = ip4(r, "203.0", 20000);
    let ok = r.below(4) == 0;
    let port = 1024 + r.below(60000);
    let msg = if ok {
        format!("Accepted publickey for {user} from {src} port {port} ssh2")
    } else {
        format!("Failed password for invalid user {user} from {src} port {port} ssh2")
    };
    e.push("host.name", host.as_str());
    e.push("process.name", "sshd");
    e.push("process.pid", 1000 + r.below(30000));
    e.push("log.syslog.facility.name", "auth");
    e.push("log.syslog.severity.name", "info");
    e.push("message", msg);
    e.push("event.dataset", "system.auth");
    e.push("event.category", "authentication");
    e.push("event.outcome", if ok { "success" } else { "failure" });
    e.push("event.code", if ok { "ssh_login" } else { "ssh_fail" });
    e.push("source.ip", src);
    e.push("source.port", port);
    e.push("user.name", user);
    e.push("observer.name", format!("relay-{}", n % 3));
    e
}
