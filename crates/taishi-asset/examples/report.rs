//! Prints what a scanner report or inventory file yields:
//! `cargo run -p taishi-asset --example report -- FILE...`
use taishi_asset::*;

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("read");
        let opts = ImportOptions::new(OrgId("org".into()), &path, chrono::Utc::now());
        match parse_report(&bytes, &opts) {
            Ok(r) => {
                println!(
                    "{path}: {:?} items={} findings={} assets={} scanned={} rejects={}",
                    r.scanner,
                    r.items,
                    r.findings.len(),
                    r.assets.len(),
                    r.scanned.len(),
                    r.rejects.len()
                );
                if std::env::var_os("SHOW").is_some() {
                    for f in &r.findings {
                        println!("  {} sev={:?} {}", f.key(), f.severity, f.sources[0].title);
                    }
                }
            }
            Err(e) => println!("{path}: ERROR {e}"),
        }
    }
}
