//! Malformed records kept aside, so what a sender sent is never lost
//! silently even when it cannot be decoded.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::Utc;
use serde_json::Value as J;
use taishi_alert::alert::now_iso;
use taishi_event::Reject;
/// Where malformed records go: one JSON line per reject, a file per UTC
/// day, so what a sender sent is not lost silently even when it cannot be
/// decoded. Bounded three ways (`[rejects]`): each record is cut at
/// `max_record_kib` (marked `"truncated": true` with its whole length in
/// `raw_bytes`), day files older than `retention_days` are deleted, and
/// the folder never holds more than `max_mib`: the oldest days go first,
/// and when today alone fills it, further rejects are counted in `dropped`
/// and not written.
pub struct RejectLog {
    dir: PathBuf,
    limits: RejectLimits,
    open: Mutex<OpenDay>,
    pub count: AtomicU64,
    /// Rejects not written because the folder was full.
    pub dropped: AtomicU64,
    /// Day files deleted by age or size.
    pub expired: AtomicU64,
}

/// The `[rejects]` limits, in bytes and days.
#[derive(Debug, Clone, Copy)]
pub struct RejectLimits {
    pub max_record: usize,
    pub max_total: u64,
    pub retention_days: u32,
}

#[derive(Default)]
struct OpenDay {
    file: Option<(String, std::fs::File)>,
    /// Bytes of the whole folder, kept up to date as lines are written.
    total: u64,
}

impl RejectLog {
    pub fn new(dir: PathBuf, limits: RejectLimits) -> std::io::Result<RejectLog> {
        std::fs::create_dir_all(&dir)?;
        let log = RejectLog {
            dir,
            limits,
            open: Mutex::new(OpenDay::default()),
            count: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        };
        {
            let mut o = log.open.lock().unwrap_or_else(|e| e.into_inner());
            let today = Utc::now().format("%Y-%m-%d").to_string();
            o.total = log.expire(&today, 0);
        }
        Ok(log)
    }

    /// Day files, oldest first: (day, path, bytes).
    fn days(&self) -> Vec<(String, PathBuf, u64)> {
        let mut v: Vec<_> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let day = name.strip_suffix(".jsonl")?.to_string();
                chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok()?;
                let len = e.metadata().ok()?.len();
                Some((day, e.path(), len))
            })
            .collect();
        v.sort();
        v
    }

    /// Deletes day files past the retention, then the oldest while more
    /// than `need` bytes would not fit (today's file is kept). Returns the
    /// bytes left.
    fn expire(&self, today: &str, need: u64) -> u64 {
        let oldest_kept = (Utc::now()
            - chrono::TimeDelta::days(i64::from(self.limits.retention_days.max(1))))
        .format("%Y-%m-%d")
        .to_string();
        let mut days = self.days();
        let mut total: u64 = days.iter().map(|d| d.2).sum();
        days.retain(|(day, path, len)| {
            let old = day.as_str() < oldest_kept.as_str();
            let over = total + need > self.limits.max_total && day.as_str() != today;
            if (old || over) && std::fs::remove_file(path).is_ok() {
                total -= len;
                self.expired.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            true
        });
        total
    }

    pub fn write(&self, listener: &str, rejects: &[Reject]) -> std::io::Result<()> {
        if rejects.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in rejects {
            let mut j = r.to_json();
            if let J::Object(m) = &mut j {
                if r.raw.len() > self.limits.max_record {
                    let cut = &r.raw[..self.limits.max_record];
                    m.insert("raw".into(), J::String(String::from_utf8_lossy(cut).into()));
                    m.insert("truncated".into(), J::Bool(true));
                }
                m.insert("listener".into(), J::String(listener.into()));
                m.insert("received".into(), J::String(now_iso()));
            }
            let _ = serde_json::to_writer(&mut buf, &j);
            buf.push(b'\n');
        }
        self.count
            .fetch_add(rejects.len() as u64, Ordering::Relaxed);
        let day = Utc::now().format("%Y-%m-%d").to_string();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let need = buf.len() as u64;
        if open.file.as_ref().is_none_or(|(d, _)| *d != day)
            || open.total + need > self.limits.max_total
        {
            open.total = self.expire(&day, need);
        }
        if open.total + need > self.limits.max_total {
            let n = self
                .dropped
                .fetch_add(rejects.len() as u64, Ordering::Relaxed)
                + rejects.len() as u64;
            if n.is_power_of_two() || n == rejects.len() as u64 {
                tracing::warn!(
                    dropped = n,
                    max_mib = self.limits.max_total >> 20,
                    "reject log full: rejects counted but not kept (raise rejects.max_mib)"
                );
            }
            return Ok(());
        }
        if open.file.as_ref().is_none_or(|(d, _)| *d != day) {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(format!("{day}.jsonl")))?;
            open.file = Some((day, f));
        }
        let Some((_, f)) = open.file.as_mut() else {
            return Ok(());
        };
        f.write_all(&buf)?;
        // Kept as durable as the events of the same batch.
        f.sync_data()?;
        open.total += need;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taishi_event::{DecodeContext, Format, Location};

    fn reject(len: usize) -> Reject {
        let ctx = DecodeContext::new("test", Format::Json);
        Reject::new(&ctx, Location::line(1, 0), "bad JSON").raw(&vec![b'x'; len])
    }

    fn limits(max_total: u64) -> RejectLimits {
        RejectLimits {
            max_record: 1024,
            max_total,
            retention_days: 7,
        }
    }

    #[test]
    fn a_record_is_cut_at_the_cap_and_marked() {
        let dir = tempfile::tempdir().unwrap();
        let log = RejectLog::new(dir.path().to_path_buf(), limits(1 << 20)).unwrap();
        log.write("http", &[reject(5000), reject(10)]).unwrap();
        let day = Utc::now().format("%Y-%m-%d").to_string();
        let text = std::fs::read_to_string(dir.path().join(format!("{day}.jsonl"))).unwrap();
        let lines: Vec<J> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["raw"].as_str().unwrap().len(), 1024);
        assert_eq!(lines[0]["truncated"], J::Bool(true));
        assert_eq!(lines[0]["raw_bytes"], J::from(5000));
        assert_eq!(lines[1]["raw"].as_str().unwrap().len(), 10);
        assert_eq!(lines[1]["truncated"], J::Bool(false));
    }

    #[test]
    fn old_days_expire_and_the_folder_stays_within_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let old = (Utc::now() - chrono::TimeDelta::days(30)).format("%Y-%m-%d");
        let recent = (Utc::now() - chrono::TimeDelta::days(1)).format("%Y-%m-%d");
        std::fs::write(dir.path().join(format!("{old}.jsonl")), "x\n").unwrap();
        std::fs::write(dir.path().join(format!("{recent}.jsonl")), vec![b'y'; 3000]).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a day file").unwrap();
        let log = RejectLog::new(dir.path().to_path_buf(), limits(8 * 1024)).unwrap();
        assert!(!dir.path().join(format!("{old}.jsonl")).exists());
        assert!(dir.path().join(format!("{recent}.jsonl")).exists());
        assert!(dir.path().join("notes.txt").exists());
        // Each write is about 1.2 KB: yesterday's file goes first, then
        // today's own file fills the cap and the rest is counted.
        for _ in 0..20 {
            log.write("http", &[reject(2000)]).unwrap();
        }
        assert!(!dir.path().join(format!("{recent}.jsonl")).exists());
        let total: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert!(total <= 8 * 1024, "{total}");
        assert!(log.dropped.load(Ordering::Relaxed) > 0);
        assert_eq!(log.count.load(Ordering::Relaxed), 20);
        assert_eq!(log.expired.load(Ordering::Relaxed), 2);
    }
}
