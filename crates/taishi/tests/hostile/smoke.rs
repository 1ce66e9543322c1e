//! The harness itself: a server starts, takes an event, raises its alert.

use crate::harness::*;

#[test]
fn server_starts_ingests_and_detects() {
    let mut s = Server::start(Opts::default());
    let c = s.token("analyst");
    send_marker(&c);
    assert!(wait_until(20, || c.get("/api/v1/alerts?from=now-1d").1
        ["total"]
        .as_u64()
        .unwrap_or(0)
        >= 1));
    s.assert_alive();
    assert!(s.peak_rss_mib() > 0);
}
