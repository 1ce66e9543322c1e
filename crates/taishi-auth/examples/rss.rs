//! Resident memory over many verifications on the pool (the figure the
//! hashing pool's kept work areas exist for): `cargo run -p taishi-auth
//! --example rss`.

fn rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let phc = taishi_auth::hash_password("correct horse battery").unwrap();
    let h = taishi_auth::Hasher::new(2, std::time::Duration::from_secs(60)).unwrap();
    println!("start: {}", rss());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (h, phc) = (h.clone(), phc.clone());
            tokio::spawn(async move { h.verify("x".into(), Some(phc)).await })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    println!("after 50 concurrent verifications: {}", rss());
}
