//! Finds the public samples that tests and benchmarks read.
//!
//! The samples live beside the repository in `../shared/data` (or wherever
//! `TAISHI_TEST_DATA` points); they are never copied into the repo. When
//! they are absent a test says so and passes, so that a user's `cargo test`
//! works on a bare checkout; CI always has them and sets
//! `TAISHI_REQUIRE_TEST_DATA=1`, which turns their absence into a failure.

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
