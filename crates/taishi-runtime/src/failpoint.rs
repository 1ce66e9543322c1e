//! Failpoints: a named place in the code where a crash test stops the
//! process. `TAISHI_FAILPOINT=<name>` makes the process print
//! `failpoint <name> reached` on stderr when it gets there and then wait
//! for good, so the test can `kill -9` it at exactly that point. Unset (as
//! always outside tests) it costs one atomic load.

use std::sync::OnceLock;

/// Between the events' commit and the alert insert.
pub const ALERTS_BEFORE_INSERT: &str = "alerts-before-insert";

fn armed() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("TAISHI_FAILPOINT")
            .ok()
            .filter(|s| !s.is_empty())
    })
    .as_deref()
}

/// Stops here for good when the failpoint `name` is armed.
pub fn hit(name: &str) {
    if armed() == Some(name) {
        eprintln!("failpoint {name} reached");
        loop {
            std::thread::park();
        }
    }
}
