//! The Prometheus text exposition format, written in one place.
//!
//! Each component (listeners, the pipeline, the store, the alert outputs,
//! searches) defines its own series next to its counters and writes them
//! with [`Exposition`]; `/metrics` is their concatenation. One writer means
//! one escaping rule and one `# HELP`/`# TYPE` layout.

use std::fmt::{Display, Write as _};

/// A series' Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// A series without labels: its name, type, help and how to read it from
/// the component `T`. A component lists its series as a `const` table of
/// these, so adding one is one line.
pub struct Scalar<T: ?Sized> {
    pub name: &'static str,
    pub kind: MetricKind,
    pub help: &'static str,
    pub get: fn(&T) -> f64,
}

/// Prometheus text being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Self {
        Exposition::default()
    }

    /// `# HELP` and `# TYPE` of a series; its samples follow.
    pub fn family(&mut self, name: &str, kind: MetricKind, help: &str) -> &mut Self {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        self
    }

    /// One sample; label values are escaped.
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl Display,
    ) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
        self
    }

    /// A series with one unlabelled sample.
    pub fn scalar(
        &mut self,
        name: &str,
        kind: MetricKind,
        help: &str,
        value: impl Display,
    ) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// Every series of a component's table, read from `of`.
    pub fn scalars<T: ?Sized>(&mut self, table: &[Scalar<T>], of: &T) -> &mut Self {
        for s in table {
            self.scalar(s.name, s.kind, s.help, (s.get)(of));
        }
        self
    }

    /// Text written by another exposition (or a component's own).
    pub fn append(&mut self, text: &str) -> &mut Self {
        self.out.push_str(text);
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A label value as the text format wants it: backslash, quote and
/// newline escaped.
pub fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_labels_are_written_in_the_text_format() {
        struct C {
            n: u64,
        }
        const TABLE: &[Scalar<C>] = &[Scalar {
            name: "x_total",
            kind: MetricKind::Counter,
            help: "Xs.",
            get: |c| c.n as f64,
        }];
        let mut e = Exposition::new();
        e.scalars(TABLE, &C { n: 3 });
        e.family("y", MetricKind::Gauge, "Ys.")
            .sample("y", &[("name", "a\"b\\c\nd")], 1.5);
        assert_eq!(
            e.finish(),
            "# HELP x_total Xs.\n# TYPE x_total counter\nx_total 3\n\
             # HELP y Ys.\n# TYPE y gauge\ny{name=\"a\\\"b\\\\c\\nd\"} 1.5\n"
        );
    }
}
