//! Synthetic scanner reports of 10,000 hosts (Nessus and Nmap with vulners)
//! parsed into findings. Prints findings per second and the ratio of the
//! parse to two baselines measured in the same run: reading the file's
//! bytes alone, and one quick-xml event pass over them (the XML guard's
//! share of the parse). Medians of 5 runs.
//!
//! `cargo bench -p taishi-asset --bench import`

use chrono::Utc;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use taishi_asset::{scan, ImportOptions, MergePolicy, OrgId, Register, ScanReport};

const HOSTS: usize = 10_000;
const RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = f();
        times.push(t.elapsed());
        last = Some(out);
    }
    (median(times), last.expect("RUNS > 0"))
}

fn ip(h: usize) -> String {
    format!("10.{}.{}.{}", h / 65536 % 256, h / 256 % 256, h % 256)
}

/// Ten items per host: four informational checks with plugin output, six
/// vulnerabilities naming one to three CVEs, CVSS v3 and v2 vectors, as the
/// DefectDojo samples have them.
fn nessus(hosts: usize) -> String {
    let mut s = String::from("<?xml version=\"1.0\" ?>\n<NessusClientData_v2>\n<Policy><policyName>Synthetic</policyName></Policy>\n<Report name=\"synthetic\">\n");
    for h in 0..hosts {
        let ip = ip(h);
        let _ = write!(
            s,
            "<ReportHost name=\"{ip}\"><HostProperties>\n<tag name=\"HOST_END\">Mon Jul  1 11:40:48 2013</tag>\n<tag name=\"operating-system\">Microsoft Windows Server 2008 R2 Standard</tag>\n<tag name=\"mac-address\">00:50:56:{:02x}:{:02x}:{:02x}</tag>\n<tag name=\"host-ip\">{ip}</tag>\n<tag name=\"host-fqdn\">host{h}.corp.example</tag>\n<tag name=\"netbios-name\">HOST{h}</tag>\n<tag name=\"cpe-0\">cpe:/o:microsoft:windows_server_2008:r2:sp1 -> Microsoft Windows Server 2008 R2</tag>\n<tag name=\"HOST_START\">Mon Jul  1 11:33:11 2013</tag>\n</HostProperties>\n",
            h / 65536 % 256, h / 256 % 256, h % 256
        );
        for i in 0..4 {
            let _ = write!(
                s,
                "<ReportItem port=\"{port}\" svc_name=\"www\" protocol=\"tcp\" severity=\"0\" pluginID=\"{id}\" pluginName=\"Service Detection {i}\" pluginFamily=\"Service detection\">\n<description>The remote service could be identified.</description>\n<fname>find_service.nasl</fname>\n<plugin_modification_date>2013/05/31</plugin_modification_date>\n<plugin_name>Service Detection {i}</plugin_name>\n<plugin_type>remote</plugin_type>\n<risk_factor>None</risk_factor>\n<solution>n/a</solution>\n<synopsis>The remote service could be identified.</synopsis>\n<plugin_output>A web server is running on this port through TLSv1.2 and answers with Server: Apache/2.4.7 (Ubuntu).</plugin_output>\n</ReportItem>\n",
                port = [80, 443, 3389, 0][i],
                id = 22964 + i
            );
        }
        for i in 0..6 {
            let n_cve = 1 + (h + i) % 3;
            let _ = writeln!(
                s,
                "<ReportItem port=\"{port}\" svc_name=\"msrdp\" protocol=\"tcp\" severity=\"{sev}\" pluginID=\"{id}\" pluginName=\"Vulnerability {i}\" pluginFamily=\"Windows\">",
                port = [3389, 445, 443, 80, 0, 135][i],
                sev = 1 + i % 4,
                id = 18405 + i
            );
            for c in 0..n_cve {
                let _ = writeln!(s, "<cve>CVE-20{:02}-{:04}</cve>", 10 + i, 1000 + c * 7 + i);
            }
            s.push_str("<cvss3_base_score>8.1</cvss3_base_score>\n<cvss3_vector>CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H</cvss3_vector>\n<cvss_base_score>5.1</cvss_base_score>\n<cvss_vector>CVSS2#AV:N/AC:H/Au:N/C:P/I:P/A:P</cvss_vector>\n<description>The remote version of the service is vulnerable to a man-in-the-middle attack. An attacker with the ability to intercept traffic can obtain sensitive information.</description>\n<exploit_available>true</exploit_available>\n<fname>tssvc_mim.nasl</fname>\n<plugin_name>Vulnerability</plugin_name>\n<risk_factor>Medium</risk_factor>\n<see_also>http://www.example.com/advisory</see_also>\n<solution>Apply the vendor's update.</solution>\n<synopsis>It may be possible to get access to the remote host.</synopsis>\n<plugin_output>Installed version : 7.4\nFixed version : 7.7</plugin_output>\n<xref>OSVDB:17131</xref>\n</ReportItem>\n");
        }
        s.push_str("</ReportHost>\n");
    }
    s.push_str("</Report>\n</NessusClientData_v2>\n");
    s
}

/// Five open ports per host, each with a service CPE; the SSH port carries
/// a vulners table of eight entries (five CVEs, three exploits).
fn nmap(hosts: usize) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner=\"nmap\" args=\"nmap -sV --script vulners\" start=\"1581930445\" version=\"7.91\" xmloutputversion=\"1.05\">\n<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"1000\" services=\"1-1000\"/>\n");
    let ports = [
        (22, "ssh", "cpe:/a:openbsd:openssh:7.4"),
        (80, "http", "cpe:/a:apache:http_server:2.4.7"),
        (443, "https", "cpe:/a:apache:http_server:2.4.7"),
        (3306, "mysql", "cpe:/a:mysql:mysql:5.7.32"),
        (8080, "http-proxy", "cpe:/a:apache:tomcat:9.0.1"),
    ];
    for h in 0..hosts {
        let _ = write!(
            s,
            "<host starttime=\"1581930450\" endtime=\"1581930455\"><status state=\"up\" reason=\"syn-ack\" reason_ttl=\"0\"/>\n<address addr=\"{}\" addrtype=\"ipv4\"/>\n<hostnames><hostname name=\"host{h}.corp.example\" type=\"PTR\"/></hostnames>\n<ports>",
            ip(h)
        );
        for (p, name, cpe) in ports {
            let _ = write!(
                s,
                "<port protocol=\"tcp\" portid=\"{p}\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/><service name=\"{name}\" product=\"x\" version=\"1\" method=\"probed\" conf=\"10\"><cpe>{cpe}</cpe></service>"
            );
            if p == 22 {
                let _ = writeln!(
                    s,
                    "<script id=\"vulners\" output=\"...\"><table key=\"{cpe}\">"
                );
                for v in 0..8 {
                    let (id, ty, ex) = if v < 5 {
                        (format!("CVE-2018-{:04}", 15900 + v), "cve", "false")
                    } else {
                        (format!("MSF:EXPLOIT-{v}"), "metasploit", "true")
                    };
                    let _ = write!(
                        s,
                        "<table>\n<elem key=\"cvss\">{}.0</elem>\n<elem key=\"id\">{id}</elem>\n<elem key=\"is_exploit\">{ex}</elem>\n<elem key=\"type\">{ty}</elem>\n</table>\n",
                        4 + v % 6
                    );
                }
                s.push_str("</table>\n</script>");
            }
            s.push_str("</port>\n");
        }
        s.push_str("</ports>\n<times srtt=\"45869\" rttvar=\"48374\" to=\"239365\"/>\n</host>\n");
    }
    s.push_str("<runstats><finished time=\"1581930455\" elapsed=\"12.18\" exit=\"success\"/><hosts up=\"10000\" down=\"0\" total=\"10000\"/></runstats>\n</nmaprun>\n");
    s
}

fn xml_events(bytes: &[u8]) -> usize {
    let mut r = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        match r.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => n += 1,
        }
        buf.clear();
    }
    n
}

fn bench(
    name: &str,
    text: String,
    parse: fn(&[u8], &ImportOptions) -> Result<ScanReport, taishi_asset::ImportError>,
) -> ScanReport {
    let path = std::env::temp_dir().join(format!("taishi-asset-bench-{name}.xml"));
    std::fs::write(&path, &text).expect("write synthetic report");
    drop(text);
    let opts = ImportOptions::new(OrgId("bench".into()), name, Utc::now());
    let (read, bytes) = time(|| std::fs::read(&path).expect("read"));
    let (events_t, events) = time(|| xml_events(&bytes));
    let (parse_t, report) = time(|| parse(&bytes, &opts).expect("parse"));
    let mib = bytes.len() as f64 / (1 << 20) as f64;
    let findings = report.findings.len();
    println!(
        "{name}: {} hosts, {} items, {findings} findings, {} assets, {mib:.1} MiB, {events} XML events",
        report.scanned.len(),
        report.items,
        report.assets.len()
    );
    println!(
        "  parse  median {:>8.3} s  {:>9.0} findings/s  {:>6.1} MiB/s",
        parse_t.as_secs_f64(),
        findings as f64 / parse_t.as_secs_f64(),
        mib / parse_t.as_secs_f64()
    );
    println!(
        "  read bytes alone  median {:>8.3} s  ({:.0} MiB/s); parse/read = {:.1}x",
        read.as_secs_f64(),
        mib / read.as_secs_f64(),
        parse_t.as_secs_f64() / read.as_secs_f64()
    );
    println!(
        "  quick-xml event pass  median {:>8.3} s  ({:.0} MiB/s); parse/events = {:.1}x",
        events_t.as_secs_f64(),
        mib / events_t.as_secs_f64(),
        parse_t.as_secs_f64() / events_t.as_secs_f64()
    );
    let _ = std::fs::remove_file(&path);
    report
}

/// The report's hosts into an empty register, then again (every host
/// merges into its asset), against cloning the same assets.
fn bench_register(report: &ScanReport) {
    let assets = &report.assets;
    let (clone_t, _) = time(|| assets.clone());
    let (fresh_t, reg) = time(|| {
        let mut reg = Register::new(MergePolicy::default());
        for a in assets.clone() {
            reg.ingest(a);
        }
        reg
    });
    let (again_t, _) = time(|| {
        let mut reg = reg.clone();
        for a in assets.clone() {
            reg.ingest(a);
        }
        reg.len()
    });
    let n = assets.len() as f64;
    println!(
        "register: {} assets ingested  median {:.3} s ({:.0}/s); again, all merging  median {:.3} s ({:.0}/s); clone alone {:.3} s; ingest/clone = {:.1}x",
        assets.len(),
        fresh_t.as_secs_f64(),
        n / fresh_t.as_secs_f64(),
        again_t.as_secs_f64(),
        n / again_t.as_secs_f64(),
        clone_t.as_secs_f64(),
        fresh_t.as_secs_f64() / clone_t.as_secs_f64()
    );
}

fn main() {
    // `TAISHI_BENCH_HOSTS` shrinks the run for a quick check.
    let hosts = std::env::var("TAISHI_BENCH_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(HOSTS);
    let nessus_report = bench("nessus", nessus(hosts), scan::nessus::parse);
    bench("nmap", nmap(hosts), scan::nmap::parse);
    bench_register(&nessus_report);
}
