//! Finds the public samples that tests and benchmarks read.
//!
//! The samples live beside the repository in `../shared/data` (or wherever
//! `TAISHI_TEST_DATA` points); they are never copied into the repo. When
//! they are absent a test says so and passes, so that a user's `cargo test`
//! works on a bare checkout; CI always has them and sets
//! `TAISHI_REQUIRE_TEST_DATA=1`, which turns their absence into a failure.

pub mod synthetic;

use std::path::{Path, PathBuf};

/// The data folder, if it exists.
pub fn root() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TAISHI_TEST_DATA") {
        let p = PathBuf::from(p);
        return p.is_dir().then_some(p);
    }
    // CARGO_MANIFEST_DIR is crates/<name>; the data sits beside the repo.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for up in here.ancestors().skip(1) {
        let cand = up.join("shared").join("data");
        if cand.is_dir() {
            return Some(cand);
        }
        if up.join("Cargo.lock").exists() || up.join(".git").exists() {
            let cand = up.join("..").join("shared").join("data");
            return cand.is_dir().then_some(cand);
        }
    }
    None
}

/// A path under the data folder, or None (after saying why on stderr) when
/// the folder or the file is absent. Panics instead when
/// `TAISHI_REQUIRE_TEST_DATA` is set, so CI cannot pass by skipping.
pub fn path(rel: &str) -> Option<PathBuf> {
    let required = std::env::var_os("TAISHI_REQUIRE_TEST_DATA").is_some_and(|v| v != "0");
    match root() {
        Some(r) => {
            let p = r.join(rel);
            if p.exists() {
                Some(p)
            } else if required {
                panic!("test data file {} is missing", p.display());
            } else {
                eprintln!("SKIP: test data file {} is missing", p.display());
                None
            }
        }
        None if required => panic!(
            "test data folder not found: put the samples in ../shared/data or set TAISHI_TEST_DATA"
        ),
        None => {
            eprintln!("SKIP: test data folder ../shared/data not found (set TAISHI_TEST_DATA); skipping {rel}");
            None
        }
    }
}

/// Reads a file under the data folder.
pub fn read(rel: &str) -> Option<Vec<u8>> {
    path(rel).map(|p| std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display())))
}

/// Builds (once, cached in the temp folder) a large EVTX file out of every
/// intact chunk of the sample EVTX files — the Windows samples and the
/// SigmaHQ regression captures — repeated until the file holds at least
/// `min_bytes`. Chunks are self-contained in EVTX (each has its own string
/// and template tables), so copying them verbatim behind a fresh file header
/// gives a valid file with a realistic mix of Sysmon and Security events.
/// Chunks whose checksums fail (sysmon.evtx has one) are left out.
pub fn large_evtx(min_bytes: u64) -> Option<PathBuf> {
    let root = root()?;
    let out = std::env::temp_dir().join(format!("taishi-large-v2-{}.evtx", min_bytes >> 20));
    if out.metadata().is_ok_and(|m| m.len() >= min_bytes) {
        return Some(out);
    }
    let mut files: Vec<PathBuf> = Vec::new();
    collect_evtx(&root.join("host-logs/windows-evtx"), &mut files);
    collect_evtx(&root.join("sigma/regression_data"), &mut files);
    files.sort();
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for f in &files {
        let Ok(data) = std::fs::read(f) else { continue };
        if data.len() < 4096 || !data.starts_with(b"ElfFile\0") {
            continue;
        }
        for c in data[4096..].chunks_exact(CHUNK) {
            if chunk_is_intact(c) {
                chunks.push(c.to_vec());
            }
        }
    }
    if chunks.is_empty() {
        return None;
    }
    // Every chunk once, so each sample's detections are there; then dense
    // chunks (many records each, as busy hosts write them) until the size
    // is reached, so events per megabyte stay realistic.
    let dense: Vec<&Vec<u8>> = chunks.iter().filter(|c| chunk_records(c) >= 20).collect();
    let dense = if dense.is_empty() {
        chunks.iter().collect()
    } else {
        dense
    };
    let mut order: Vec<&Vec<u8>> = chunks.iter().collect();
    while ((order.len() * CHUNK) as u64) < min_bytes {
        order.push(dense[order.len() % dense.len()]);
    }
    let n_chunks = order.len() as u64;
    if n_chunks > u16::MAX as u64 {
        return None;
    }
    let mut header = vec![0u8; 4096];
    header[..8].copy_from_slice(b"ElfFile\0");
    header[8..16].copy_from_slice(&0u64.to_le_bytes()); // first chunk
    header[16..24].copy_from_slice(&(n_chunks - 1).to_le_bytes()); // last chunk
    header[24..32].copy_from_slice(&1u64.to_le_bytes()); // next record id
    header[32..36].copy_from_slice(&128u32.to_le_bytes());
    header[36..38].copy_from_slice(&1u16.to_le_bytes()); // minor version
    header[38..40].copy_from_slice(&3u16.to_le_bytes()); // major version
    header[40..42].copy_from_slice(&4096u16.to_le_bytes());
    header[42..44].copy_from_slice(&(n_chunks as u16).to_le_bytes());
    let crc = crc32fast::hash(&header[..120]);
    header[124..128].copy_from_slice(&crc.to_le_bytes());
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        w.write_all(&header)?;
        for c in &order {
            w.write_all(c)?;
        }
        w.flush()?;
        std::fs::rename(&tmp, &out)
    };
    write().ok()?;
    Some(out)
}

const CHUNK: usize = 65536;

fn collect_evtx(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_evtx(&p, out);
        } else if p.extension().is_some_and(|x| x == "evtx") {
            out.push(p);
        }
    }
}

/// Records in a chunk, from its first and last record numbers.
fn chunk_records(c: &[u8]) -> u64 {
    let u64_at = |o: usize| u64::from_le_bytes(c[o..o + 8].try_into().unwrap_or([0; 8]));
    u64_at(16).saturating_sub(u64_at(8)) + 1
}

/// Checks a chunk's header and records checksums as Windows writes them.
fn chunk_is_intact(c: &[u8]) -> bool {
    if !c.starts_with(b"ElfChnk\0") {
        return false;
    }
    let u32_at = |o: usize| u32::from_le_bytes([c[o], c[o + 1], c[o + 2], c[o + 3]]);
    let free = u32_at(48) as usize;
    if !(512..=CHUNK).contains(&free) {
        return false;
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&c[..120]);
    h.update(&c[128..512]);
    h.finalize() == u32_at(124) && crc32fast::hash(&c[512..free]) == u32_at(52)
}
