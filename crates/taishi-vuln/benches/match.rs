//! Matching benchmark: 100,000 assets with 20–60 CPEs each against a
//! synthesised full-size NVD feed (250,000 CVEs), on every core.
//!
//! The feed is synthesised from the saved real API 2.0 records
//! (`vuln/nvd`, `vuln/nvd-extra`): each synthetic CVE copies the
//! configurations of a real one (its AND/OR nodes, negation, vulnerable and
//! platform entries, version ranges and exact versions) with each real
//! product replaced by a synthetic one. Products are drawn Zipf-like (a few
//! products carry thousands of CVEs, as the Linux kernel or Windows do),
//! platform entries from a smaller pool of operating systems and hardware.
//! Every synthetic application has 200 releases (1.0.0 … 4.4.9); a CVE's
//! bounds are moved onto that timeline (fixed in a random release,
//! introduced up to 60 releases earlier; exact versions just before the
//! fix). Assets draw their software from the same popularity law, each a
//! few releases behind the latest (geometric lag, mean 5), plus one or two
//! platform CPEs with versions the feed names.
//!
//! Baselines in the same run: the index build alone, and a naive scan (every
//! CVE evaluated for every asset) over a sample of assets, scaled.
//!
//! `cargo bench -p taishi-vuln --bench match`; sizes from
//! `TAISHI_BENCH_CVES` (250000), `TAISHI_BENCH_ASSETS` (100000).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use taishi_vuln::cpe::{Attr, Cpe, PRODUCT, VENDOR};
use taishi_vuln::matching::{FeedIndex, Inventory};
use taishi_vuln::nvd;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Samples ranks 0..n with P(r) ∝ 1/(r+1)^s.
struct Zipf {
    cdf: Vec<f64>,
}
impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let cdf = (0..n)
            .map(|r| {
                acc += 1.0 / ((r + 1) as f64).powf(s);
                acc
            })
            .collect::<Vec<_>>();
        let total = acc;
        Self {
            cdf: cdf.into_iter().map(|c| c / total).collect(),
        }
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn vm_hwm_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU seconds this process has used (user + system), from /proc: on a
/// machine shared with other jobs, wall time overstates the cost.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // The fields after the command name (in parentheses): utime and stime
    // are fields 14 and 15 of the line, 12 and 13 of the rest.
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn real_records() -> Option<Vec<nvd::Cve>> {
    let mut out: Vec<nvd::Cve> = Vec::new();
    for dir in ["vuln/nvd", "vuln/nvd-extra"] {
        let dir = taishi_testdata::path(dir)?;
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for p in files {
            if p.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&p).ok()?;
                out.extend(
                    nvd::load(&bytes, &p.display().to_string(), &nvd::Limits::default()).ok()?,
                );
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    Some(out)
}

/// Releases of every synthetic application: 0 → 1.0.0 … 199 → 4.4.9.
const RELEASES: usize = 200;
fn release(i: usize) -> String {
    format!("{}.{}.{}", i / 50 + 1, (i / 10) % 5, i % 10)
}

fn main() {
    let Some(real) = real_records() else {
        println!("SKIP: test data not found (set TAISHI_TEST_DATA)");
        return;
    };
    let n_cves = env("TAISHI_BENCH_CVES", 250_000);
    let n_assets = env("TAISHI_BENCH_ASSETS", 100_000);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let templates: Vec<&nvd::Cve> = real
        .iter()
        .filter(|c| !c.configurations.is_empty())
        .collect();
    println!(
        "real records: {} ({} with configurations) → {n_cves} CVEs, {n_assets} assets, {threads} threads",
        real.len(),
        templates.len()
    );

    // Synthetic products: an application pool and a platform pool.
    const APPS: usize = 60_000;
    const PLATFORMS: usize = 300;
    let app_zipf = Zipf::new(APPS, 0.8);
    let plat_zipf = Zipf::new(PLATFORMS, 1.0);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Versions the feed names per synthetic product (for asset inventories).
    let mut versions: HashMap<(bool, usize), Vec<String>> = HashMap::new();
    let mut parts: HashMap<(bool, usize), Attr> = HashMap::new();

    let t0 = Instant::now();
    let mut index = FeedIndex::new();
    let mut build_time = Duration::ZERO;
    let loop_cpu = cpu_secs();
    for k in 0..n_cves {
        let t = templates[k % templates.len()];
        let mut rec = nvd::Cve {
            id: format!("CVE-SYN-{k:07}"),
            configurations: t.configurations.clone(),
            ..Default::default()
        };
        // Same real product → same synthetic product within a CVE.
        let mut map: HashMap<(String, String, bool), usize> = HashMap::new();
        for conf in &mut rec.configurations {
            for node in &mut conf.nodes {
                for m in &mut node.cpe_match {
                    let Ok(mut cpe) = Cpe::parse(&m.criteria) else {
                        continue;
                    };
                    let platform = !m.vulnerable;
                    let key = (
                        cpe.vendor().unwrap_or_default().to_owned(),
                        cpe.product().unwrap_or_default().to_owned(),
                        platform,
                    );
                    let id = *map.entry(key).or_insert_with(|| {
                        if platform {
                            plat_zipf.sample(&mut rng)
                        } else {
                            app_zipf.sample(&mut rng)
                        }
                    });
                    let (v, p) = if platform {
                        (format!("pv{}", id % 97), format!("platform_{id}"))
                    } else {
                        (format!("vendor{}", id % 9973), format!("product_{id}"))
                    };
                    cpe.attrs[VENDOR] = Attr::literal(&v);
                    cpe.attrs[PRODUCT] = Attr::literal(&p);
                    if !platform {
                        // The template's bounds, moved onto this product's
                        // timeline: fixed in release `fix`, introduced up to
                        // 60 releases earlier.
                        let fix = 1 + rng.below(RELEASES - 1);
                        let intro = fix.saturating_sub(10 + rng.below(50));
                        let set = |b: &mut Option<String>, r: usize| {
                            if b.is_some() {
                                *b = Some(release(r));
                            }
                        };
                        set(&mut m.version_end_excluding, fix);
                        set(&mut m.version_end_including, fix - 1);
                        set(&mut m.version_start_including, intro);
                        set(&mut m.version_start_excluding, intro.saturating_sub(1));
                        if cpe.version().as_literal().is_some() {
                            cpe.attrs[3] = Attr::literal(&release(fix - 1));
                        }
                    }
                    let list = versions.entry((platform, id)).or_default();
                    for b in [
                        &m.version_start_including,
                        &m.version_start_excluding,
                        &m.version_end_including,
                        &m.version_end_excluding,
                    ]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .chain(cpe.version().as_literal())
                    {
                        if list.len() < 16 && !list.iter().any(|x| x == b) {
                            list.push(b.to_owned());
                        }
                    }
                    parts
                        .entry((platform, id))
                        .or_insert_with(|| cpe.attrs[0].clone());
                    m.criteria = cpe.to_string();
                }
            }
        }
        let tb = Instant::now();
        index.add(&rec);
        build_time += tb.elapsed();
    }
    let tb = Instant::now();
    index.finish();
    build_time += tb.elapsed();
    // CPU spent on the build, estimated from the loop's CPU share (reading
    // /proc around every `add` would cost more than the add).
    let build_cpu = build_time.as_secs_f64() * (cpu_secs() - loop_cpu) / t0.elapsed().as_secs_f64();
    let synth_time = t0.elapsed() - build_time;
    let stats = index.stats();
    let hwm_index = vm_hwm_mib();
    println!(
        "feed: {} CVEs, {} products, {} cpeMatch entries, {} postings; synthesised in {:.1} s, index build {:.2} s ({:.0} CVEs/s); peak memory so far {hwm_index:.0} MiB",
        stats.cves,
        stats.products,
        stats.cpe_matches,
        stats.postings,
        synth_time.as_secs_f64(),
        build_time.as_secs_f64(),
        stats.cves as f64 / build_time.as_secs_f64()
    );

    // Assets.
    let t1 = Instant::now();
    let cpe_text = |platform: bool, id: usize, rng: &mut Rng| -> String {
        let (v, p) = if platform {
            (format!("pv{}", id % 97), format!("platform_{id}"))
        } else {
            (format!("vendor{}", id % 9973), format!("product_{id}"))
        };
        let part = match parts.get(&(platform, id)).and_then(|a| a.as_literal()) {
            Some(x) => x.to_owned(),
            None => "a".into(),
        };
        let ver = if platform {
            match versions.get(&(platform, id)) {
                Some(list) if !list.is_empty() => list[rng.below(list.len())].clone(),
                _ => "-".into(),
            }
        } else {
            // Most software is a few releases behind the latest
            // (geometric lag, mean 5 releases).
            let lag = ((-rng.unit().max(1e-12).ln()) * 5.0) as usize;
            release(RELEASES - 1 - lag.min(RELEASES - 1))
        };
        let ver = ver.replace(':', "\\:");
        format!("cpe:2.3:{part}:{v}:{p}:{ver}:*:*:*:*:*:*:*")
    };
    let mut assets: Vec<Inventory> = Vec::with_capacity(n_assets);
    let mut total_cpes = 0usize;
    for _ in 0..n_assets {
        let n = 20 + rng.below(41);
        let mut cpes = Vec::with_capacity(n);
        for _ in 0..1 + rng.below(2) {
            let id = plat_zipf.sample(&mut rng);
            cpes.push(cpe_text(true, id, &mut rng));
        }
        while cpes.len() < n {
            let id = app_zipf.sample(&mut rng);
            cpes.push(cpe_text(false, id, &mut rng));
        }
        total_cpes += cpes.len();
        let (inv, _bad) = Inventory::parse(&cpes);
        assets.push(inv);
    }
    println!(
        "assets: {n_assets} with {total_cpes} CPEs ({:.1} per asset), built in {:.1} s",
        total_cpes as f64 / n_assets as f64,
        t1.elapsed().as_secs_f64()
    );

    // The measured pass: every asset matched, on every core.
    let run = || -> (Duration, f64, usize, usize) {
        let c = cpu_secs();
        let t = Instant::now();
        let chunk = assets.len().div_ceil(threads);
        let (findings, vulnerable_assets) = std::thread::scope(|s| {
            let handles: Vec<_> = assets
                .chunks(chunk.max(1))
                .map(|part| {
                    let index = &index;
                    s.spawn(move || {
                        let mut f = 0usize;
                        let mut a = 0usize;
                        for inv in part {
                            let n = index.match_inventory(inv).len();
                            f += n;
                            a += usize::from(n > 0);
                        }
                        (f, a)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("worker"))
                .fold((0, 0), |x, y| (x.0 + y.0, x.1 + y.1))
        });
        (t.elapsed(), cpu_secs() - c, findings, vulnerable_assets)
    };
    let repeats = env("TAISHI_BENCH_REPEATS", 3);
    let mut times = Vec::new();
    let mut cpus = Vec::new();
    let mut findings = 0;
    let mut vulnerable = 0;
    for _ in 0..repeats.max(1) {
        let (d, cpu, f, a) = run();
        times.push(d);
        cpus.push(cpu);
        findings = f;
        vulnerable = a;
    }
    times.sort();
    cpus.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let median_cpu = cpus[cpus.len() / 2];
    let probe = assets.len().min(1000);
    let c0 = cpu_secs();
    let cands: usize = assets
        .iter()
        .take(probe)
        .map(|a| index.candidate_count(a))
        .sum();
    let c1 = cpu_secs();
    let fs: usize = assets
        .iter()
        .take(probe)
        .map(|a| index.match_inventory(a).len())
        .sum();
    let c2 = cpu_secs();
    println!(
        "probe, first {probe} assets on one thread: {:.0} candidate CVEs per asset ({:.3} ms CPU per asset to find them); {:.1} findings per asset, full match {:.3} ms CPU per asset",
        cands as f64 / probe as f64,
        (c1 - c0) * 1000.0 / probe as f64,
        fs as f64 / probe as f64,
        (c2 - c1) * 1000.0 / probe as f64
    );
    let work: usize = assets
        .iter()
        .take(1000)
        .map(|a| index.postings_for(a))
        .sum::<usize>()
        * assets.len()
        / assets.len().min(1000);
    println!(
        "match: median {:.2} s of {} runs (min {:.2} s); {:.0} assets/s, {:.0} asset CPEs/s, {:.0} entry checks/s (about {work} vulnerable entries checked per run); {findings} findings on {vulnerable} assets",
        median.as_secs_f64(),
        times.len(),
        times[0].as_secs_f64(),
        n_assets as f64 / median.as_secs_f64(),
        total_cpes as f64 / median.as_secs_f64(),
        work as f64 / median.as_secs_f64(),
    );

    // Baseline: every CVE evaluated for a sample of assets, one thread, scaled.
    let sample = env("TAISHI_BENCH_SCAN_SAMPLE", 20).min(assets.len());
    let t = Instant::now();
    let mut scan_findings = 0;
    let mut index_findings = 0;
    for inv in &assets[..sample] {
        scan_findings += index.match_inventory_scan(inv).len();
        index_findings += index.match_inventory(inv).len();
    }
    let scan = t.elapsed();
    assert_eq!(scan_findings, index_findings, "index and scan disagree");
    let scan_per_asset = scan.as_secs_f64() / sample as f64;
    let scan_total = scan_per_asset * n_assets as f64 / threads as f64;
    println!(
        "baseline: naive scan {:.1} ms per asset ({sample} assets, same findings: {scan_findings}), scaled to {n_assets} assets on {threads} threads ≈ {:.0} s; index is {:.0}× faster; index build alone {:.2} s",
        scan_per_asset * 1000.0,
        scan_total,
        scan_total / median.as_secs_f64(),
        build_time.as_secs_f64()
    );
    println!(
        "match CPU: median {median_cpu:.1} CPU-s, i.e. {:.1} s on {threads} dedicated cores; load average during the run {}",
        median_cpu / threads as f64,
        load_average()
    );
    println!(
        "total: index build + match = {:.1} s wall, {:.1} s on {threads} dedicated cores by CPU time (goal < 60 s); peak memory (VmHWM) {:.0} MiB",
        build_time.as_secs_f64() + median.as_secs_f64(),
        build_cpu + median_cpu / threads as f64,
        vm_hwm_mib()
    );
}
