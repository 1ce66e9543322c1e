//! File tailing: restart, rotation (rename + create, copytruncate), and
//! checkpoints that follow acknowledgement.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{wait_for, TestSink};
use taishi_event::Format;
use taishi_ingest::tail::{self, TailConfig};
use taishi_ingest::{CancellationToken, Running};

fn append(path: &Path, from: u64, to: u64) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for n in from..to {
        writeln!(f, "{{\"n\":{n},\"message\":\"line {n}\"}}").unwrap();
    }
}

fn numbers(sinks: &[&TestSink]) -> Vec<u64> {
    sinks
        .iter()
        .flat_map(|s| s.events())
        .map(|e| e.get("n").and_then(|v| v.as_u64()).unwrap())
        .collect()
}

/// Every number in `0..n` exactly once.
fn exactly(sinks: &[&TestSink], n: u64) -> bool {
    let got = numbers(sinks);
    got.len() as u64 == n && got.iter().copied().collect::<BTreeSet<_>>() == (0..n).collect()
}

async fn start(
    dir: &Path,
    file: &Path,
    format: Option<Format>,
    sink: Arc<TestSink>,
    stop: CancellationToken,
) -> Running {
    let mut cfg = TailConfig::new("tail", vec![file.to_path_buf()], dir.join("state"));
    cfg.format = format;
    cfg.poll = Duration::from_millis(20);
    // Small reads: several batches, and checkpoints between them.
    cfg.read_chunk = 512;
    tail::tail(cfg, sink, stop).await.unwrap()
}

async fn stop(l: Running, token: CancellationToken) {
    token.cancel();
    tokio::time::timeout(Duration::from_secs(5), l.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_without_duplicates_or_loss() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    append(&file, 0, 100);
    // Half a line: not read until its newline comes.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(b"{\"n\":100,")
        .unwrap();

    let s1 = Arc::new(TestSink::open());
    let t1 = CancellationToken::new();
    let l = start(dir.path(), &file, None, s1.clone(), t1.clone()).await;
    assert!(
        wait_for(5, || s1.event_count() == 100).await,
        "{}",
        s1.event_count()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s1.event_count(), 100, "a partial line was read");
    stop(l, t1).await;

    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    f.write_all(b"\"message\":\"line 100\"}\n").unwrap();
    append(&file, 101, 120);
    f.write_all(b"{not json\n").unwrap();
    append(&file, 120, 150);

    let s2 = Arc::new(TestSink::open());
    let t2 = CancellationToken::new();
    let l = start(dir.path(), &file, None, s2.clone(), t2.clone()).await;
    assert!(
        wait_for(5, || s2.event_count() == 50).await,
        "{}",
        s2.event_count()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(exactly(&[&s1, &s2], 150), "{:?}", numbers(&[&s2]));
    assert_eq!(s2.events()[0].get_str("message"), Some("line 100"));
    // Line numbers carry on across the restart.
    let r = s2.rejects();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].location.line, Some(121));
    assert!(r[0].source.ends_with("app.log"));
    stop(l, t2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_by_rename_and_by_copytruncate() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    append(&file, 0, 10);
    let sink = Arc::new(TestSink::open());
    let token = CancellationToken::new();
    let l = start(
        dir.path(),
        &file,
        Some(Format::Json),
        sink.clone(),
        token.clone(),
    )
    .await;
    assert!(wait_for(5, || sink.event_count() == 10).await);

    // logrotate's default: the writer adds its last lines, the file is
    // renamed, a new one is created.
    append(&file, 10, 15);
    std::fs::rename(&file, dir.path().join("app.log.1")).unwrap();
    append(&file, 15, 20);
    assert!(
        wait_for(5, || sink.event_count() == 20).await,
        "{}",
        sink.event_count()
    );

    // copytruncate: the file is copied aside, emptied, and written again.
    std::fs::copy(&file, dir.path().join("app.log.2")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&file)
        .unwrap();
    append(&file, 20, 23);
    assert!(
        wait_for(5, || sink.event_count() == 23).await,
        "{}",
        sink.event_count()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(exactly(&[&sink], 23), "{:?}", numbers(&[&sink]));
    stop(l, token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_while_stopped_is_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    append(&file, 0, 10);
    let s1 = Arc::new(TestSink::open());
    let t1 = CancellationToken::new();
    let l = start(
        dir.path(),
        &file,
        Some(Format::Json),
        s1.clone(),
        t1.clone(),
    )
    .await;
    assert!(wait_for(5, || s1.event_count() == 10).await);
    stop(l, t1).await;

    append(&file, 10, 15);
    std::fs::rename(&file, dir.path().join("app.log.1")).unwrap();
    append(&file, 15, 20);

    let s2 = Arc::new(TestSink::open());
    let t2 = CancellationToken::new();
    let l = start(
        dir.path(),
        &file,
        Some(Format::Json),
        s2.clone(),
        t2.clone(),
    )
    .await;
    assert!(
        wait_for(5, || s2.event_count() == 10).await,
        "{}",
        s2.event_count()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(exactly(&[&s1, &s2], 20), "{:?}", numbers(&[&s2]));
    stop(l, t2).await;
}

/// Tails `file` into a sink that fails every batch until it counted
/// `errors` sink errors, then a little longer; returns the sink errors
/// counted in all.
async fn tail_failing(dir: &Path, file: &Path, sink: TestSink, errors: u64) -> u64 {
    let token = CancellationToken::new();
    let l = start(dir, file, Some(Format::Json), Arc::new(sink), token.clone()).await;
    assert!(wait_for(5, || l.metrics.snapshot().sink_errors >= errors).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let counted = l.metrics.snapshot().sink_errors;
    stop(l, token).await;
    counted
}

/// Tails `file` again, into a sink that stores, until it holds `n` events.
async fn tail_until(
    dir: &Path,
    file: &Path,
    n: usize,
) -> (Arc<TestSink>, Running, CancellationToken) {
    let up = Arc::new(TestSink::open());
    let token = CancellationToken::new();
    let l = start(dir, file, Some(Format::Json), up.clone(), token.clone()).await;
    assert!(
        wait_for(5, || up.event_count() == n).await,
        "{}",
        up.event_count()
    );
    (up, l, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_acknowledged_lines_are_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    append(&file, 0, 30);
    tail_failing(dir.path(), &file, TestSink::failing(), 2).await;
    let (up, l, token) = tail_until(dir.path(), &file, 30).await;
    assert!(exactly(&[&up], 30));
    let m = l.metrics.snapshot();
    assert_eq!(m.events_acked, 30);
    stop(l, token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_the_store_rejects_are_skipped_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    append(&file, 0, 30);
    let refusing = TestSink::failing_with(taishi_ingest::SinkError::Rejected("bad batch".into()));
    // 30 lines of about 30 bytes in reads of 512: two batches, each tried
    // once (a transient error would be retried every poll, 20 ms).
    assert_eq!(tail_failing(dir.path(), &file, refusing, 2).await, 2);
    // The checkpoint moved past them: only new lines come after a restart.
    append(&file, 30, 35);
    let (up, l, token) = tail_until(dir.path(), &file, 5).await;
    assert_eq!(numbers(&[&up]), (30..35).collect::<Vec<_>>());
    stop(l, token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_lines_are_rejected_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    append(&file, 0, 2);
    let long = format!("{{\"n\":99,\"message\":\"{}\"}}\n", "x".repeat(2000));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(long.as_bytes())
        .unwrap();
    append(&file, 2, 4);
    let sink = Arc::new(TestSink::open());
    let token = CancellationToken::new();
    let l = start(
        dir.path(),
        &file,
        Some(Format::Json),
        sink.clone(),
        token.clone(),
    )
    .await;
    assert!(
        wait_for(5, || sink.event_count() == 4).await,
        "{}",
        sink.event_count()
    );
    assert!(exactly(&[&sink], 4));
    let r = sink.rejects();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].location.line, Some(3));
    assert!(r[0].reason.contains("longer than"));
    stop(l, token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patterns_pick_up_new_files_and_let_removed_ones_go() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    append(&logs.join("a.log"), 0, 5);
    append(&logs.join("a.log.1"), 100, 105);
    append(&logs.join("notes.txt"), 200, 205);
    let sink = Arc::new(TestSink::open());
    let token = CancellationToken::new();
    let mut cfg = TailConfig::new("tail", vec![logs.join("*.log")], dir.path().join("state"));
    cfg.poll = Duration::from_millis(20);
    cfg.rescan = Duration::from_millis(50);
    cfg.close_removed = Duration::from_millis(100);
    let l = tail::tail(cfg, sink.clone(), token.clone()).await.unwrap();
    assert!(wait_for(5, || sink.event_count() == 5).await);

    append(&logs.join("c.log"), 5, 8);
    assert!(
        wait_for(5, || sink.event_count() == 8).await,
        "{}",
        sink.event_count()
    );
    let checkpoints = || {
        std::fs::read_dir(dir.path().join("state"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".json")
            })
            .count()
    };
    // The checkpoint is written after the sink acknowledged, so it may
    // trail the events by a moment.
    assert!(
        wait_for(5, || checkpoints() == 2).await,
        "{}",
        checkpoints()
    );

    // Removed: read to its end, then closed with its checkpoint.
    std::fs::remove_file(logs.join("c.log")).unwrap();
    assert!(wait_for(5, || checkpoints() == 1).await);
    append(&logs.join("c.log"), 8, 10);
    assert!(
        wait_for(5, || sink.event_count() == 10).await,
        "{}",
        sink.event_count()
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(exactly(&[&sink], 10), "{:?}", numbers(&[&sink]));
    stop(l, token).await;
}
