//! What people see: progress bars on a terminal, aligned tables, sizes.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A byte-progress bar on stderr, shown only when stderr is a terminal. A
/// thread polls `read` so decoders never touch the bar on their hot path.
pub struct Progress {
    bar: Option<ProgressBar>,
    stop: Arc<AtomicU64>,
    poller: Option<thread::JoinHandle<()>>,
}

impl Progress {
    pub fn bytes(total: Option<u64>, read: Arc<AtomicU64>) -> Progress {
        let stop = Arc::new(AtomicU64::new(0));
        if !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                stop,
                poller: None,
            };
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t).with_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
                )
                .expect("valid template"),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bytes} ({bytes_per_sec}) {msg}")
                    .expect("valid template"),
            ),
        };
        let (b, s) = (bar.clone(), stop.clone());
        let poller = thread::spawn(move || {
            while s.load(Ordering::Relaxed) == 0 {
                b.set_position(read.load(Ordering::Relaxed));
                thread::sleep(Duration::from_millis(100));
            }
        });
        Progress {
            bar: Some(bar),
            stop,
            poller: Some(poller),
        }
    }

    /// A bar of steps (tables of a database) labelled `what`; the caller
    /// moves it with [`Progress::set`].
    pub fn count(what: &str) -> Progress {
        let stop = Arc::new(AtomicU64::new(0));
        let bar = std::io::stderr().is_terminal().then(|| {
            ProgressBar::new(0)
                .with_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {prefix} {msg}",
                    )
                    .expect("valid template"),
                )
                .with_prefix(what.to_string())
        });
        Progress {
            bar,
            stop,
            poller: None,
        }
    }

    pub fn set(&self, done: u64, total: u64, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_length(total);
            b.set_position(done);
            b.set_message(msg.to_string());
        }
    }

    pub fn message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg);
        }
    }

    /// Prints a line above the bar (or plainly when there is none).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(self) {}
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(1, Ordering::Relaxed);
        if let Some(p) = self.poller.take() {
            let _ = p.join();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// Renders rows as an aligned text table; numeric columns align right.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(display_width(c));
            }
        }
    }
    let numeric: Vec<bool> = (0..header.len())
        .map(|i| {
            !rows.is_empty()
                && rows.iter().all(|r| {
                    r.get(i).is_none_or(|c| {
                        c.chars()
                            .all(|ch| ch.is_ascii_digit() || ",.%/s- ".contains(ch))
                    })
                })
        })
        .collect();
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(display_width(c));
            if i > 0 {
                out.push_str("  ");
            }
            if numeric[i] {
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str(c);
            } else {
                out.push_str(c);
                if i + 1 < cells.len() {
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        out.push('\n');
    };
    line(
        &header.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        &mut out,
    );
    line(
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
        &mut out,
    );
    for r in rows {
        line(r, &mut out);
    }
    out
}

/// How a table may be narrowed to fit a terminal.
pub struct Fit<'a> {
    /// Columns of the terminal.
    pub width: usize,
    /// Columns (by index) never cut.
    pub keep: &'a [usize],
    /// Columns left out, in this order, while the others cannot be cut
    /// enough.
    pub drop: &'a [usize],
    /// (column, width) a column is not cut below: a rule title cut to a
    /// few letters says nothing, so other columns go first.
    pub floors: &'a [(usize, usize)],
}

/// The narrowest a cut column becomes (besides its header's width).
const MIN_CELL: usize = 4;

/// The width the terminal has for what goes to stdout: `COLUMNS` when set,
/// else the terminal's when stdout is one, else none (a pipe or a file
/// gets whole lines).
pub fn terminal_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return Some(c);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

/// `s` on one line, cut to `width` terminal columns with `…`.
pub fn clip(s: &str, width: usize) -> String {
    let s = s.replace(['\n', '\r', '\t'], " ");
    if display_width(&s) <= width {
        return s;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = display_width(c.encode_utf8(&mut [0; 4]));
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// [`table`] narrowed to `fit` (when given): the widest cells are cut with
/// `…` to one common width, and when even that is too wide, columns are
/// left out in `fit.drop`'s order. Returns the table and the headers of
/// the columns left out.
pub fn table_fit(
    header: &[&str],
    rows: &[Vec<String>],
    fit: Option<&Fit<'_>>,
) -> (String, Vec<String>) {
    let Some(fit) = fit else {
        return (table(header, rows), Vec::new());
    };
    let mut natural: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
    for r in rows {
        for (w, c) in natural.iter_mut().zip(r) {
            *w = (*w).max(display_width(&c.replace(['\n', '\r', '\t'], " ")));
        }
    }
    let floor = |c: usize| {
        if fit.keep.contains(&c) {
            natural[c]
        } else {
            let own = fit.floors.iter().find(|(i, _)| *i == c).map_or(0, |f| f.1);
            natural[c].min(display_width(header[c]).max(MIN_CELL).max(own))
        }
    };
    let total = |cols: &[usize], w: &dyn Fn(usize) -> usize| {
        cols.iter().map(|&c| w(c)).sum::<usize>() + 2 * cols.len().saturating_sub(1)
    };
    let mut cols: Vec<usize> = (0..header.len()).collect();
    let mut dropped = Vec::new();
    for d in fit.drop {
        if total(&cols, &floor) <= fit.width {
            break;
        }
        cols.retain(|c| c != d);
        dropped.push(header[*d].to_string());
    }
    // One cap for every column that may be cut: the widest cap that fits.
    let (nat, fl) = (&natural, &floor);
    let capped = |cap: usize| move |c: usize| nat[c].min(cap.max(fl(c)));
    let mut cap = natural.iter().copied().max().unwrap_or(0);
    while cap > 0 && total(&cols, &capped(cap)) > fit.width {
        cap -= 1;
    }
    let width = capped(cap);
    let head: Vec<&str> = cols.iter().map(|&c| header[c]).collect();
    let cut: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|&c| clip(r.get(c).map_or("", String::as_str), width(c)))
                .collect()
        })
        .collect();
    (table(&head, &cut), dropped)
}

/// Terminal columns a string takes: CJK characters take two.
pub fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

/// Thousands separators: 1234567 → "1,234,567".
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["format", "events"],
            &[
                vec!["evtx".into(), "358".into()],
                vec!["syslog".into(), "1,024".into()],
            ],
        );
        assert_eq!(
            t,
            "format  events\n------  ------\nevtx       358\nsyslog   1,024\n"
        );
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(display_width("态势ab"), 6);
    }

    #[test]
    fn tables_fit_a_width() {
        let rows = vec![vec![
            "2026-11-01T10:00:00.000+00:00".to_string(),
            "x".repeat(300),
            "态势".repeat(50),
            "high".to_string(),
        ]];
        let header = ["timestamp", "details", "rule_id", "level"];
        let fit = Fit {
            width: 80,
            keep: &[0, 3],
            drop: &[2],
            floors: &[],
        };
        let (t, dropped) = table_fit(&header, &rows, Some(&fit));
        for line in t.lines() {
            assert!(display_width(line) <= 80, "{line}");
        }
        assert!(t.contains("2026-11-01T10:00:00.000+00:00"), "{t}");
        assert!(t.contains('…'), "{t}");
        assert!(dropped.is_empty(), "{dropped:?}");
        // Too narrow for every column at its floor: rule_id goes.
        let fit = Fit {
            width: 50,
            keep: &[0, 3],
            drop: &[2],
            floors: &[],
        };
        let (t, dropped) = table_fit(&header, &rows, Some(&fit));
        assert_eq!(dropped, ["rule_id"]);
        for line in t.lines() {
            assert!(display_width(line) <= 50, "{line}");
        }
        assert_eq!(clip("态势ab", 4), "态…");
    }
}
