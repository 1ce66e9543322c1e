//! Scanner reports → findings. Each format has its own module; all of them
//! hand their findings to a [`ReportBuilder`], which deduplicates, applies
//! the finding cap and clips evidence.

pub mod csv;
pub mod grype;
pub mod nessus;
pub mod nmap;
pub mod openvas;
pub mod trivy;

use crate::error::{clip, ImportError, RecordError};
use crate::finding::{AssetRef, Finding, FindingSet, FindingSource, Location, Scanner};
use crate::import::ImportOptions;
use crate::model::Asset;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;

/// Other ids (CNVD, CNNVD, cross references) kept per report of a finding.
pub(crate) const MAX_REFS: usize = 16;

/// One report read: its findings (deduplicated), the hosts or artifacts it
/// covered, and the records refused.
#[derive(Debug, Clone)]
pub struct ScanReport {
    pub scanner: Scanner,
    pub source_name: String,
    /// Report items read (Nessus ReportItems, Greenbone results, Trivy and
    /// Grype matches, vulners entries, CSV rows), before one item naming n
    /// CVEs became n findings and duplicates were folded.
    pub items: usize,
    pub findings: Vec<Finding>,
    /// Asset keys ([`crate::AssetRef::key`]) the report scanned, with or
    /// without findings: a rescan judges "fixed" only on these.
    pub scanned: BTreeSet<String>,
    /// Hosts as the scan saw them (identities, open ports, software), for
    /// the register.
    pub assets: Vec<Asset>,
    pub rejects: Vec<RecordError>,
}

/// Collects a report's findings under the options' limits.
pub(crate) struct ReportBuilder<'a> {
    pub opts: &'a ImportOptions,
    pub scanner: Scanner,
    pub items: usize,
    pub set: FindingSet,
    pub scanned: BTreeSet<String>,
    pub assets: Vec<Asset>,
    pub rejects: Vec<RecordError>,
}

impl<'a> ReportBuilder<'a> {
    pub fn new(opts: &'a ImportOptions, scanner: Scanner) -> Self {
        ReportBuilder {
            opts,
            scanner,
            items: 0,
            set: FindingSet::new(),
            scanned: BTreeSet::new(),
            assets: Vec::new(),
            rejects: Vec::new(),
        }
    }

    /// Counts one report item against the record limit.
    pub fn item(&mut self) -> Result<(), ImportError> {
        self.items += 1;
        if self.items > self.opts.limits.max_records {
            return Err(ImportError::TooManyRecords {
                source_name: self.opts.source_name.clone(),
                limit: self.opts.limits.max_records,
            });
        }
        Ok(())
    }

    pub fn push(&mut self, mut f: Finding) -> Result<(), ImportError> {
        let max = self.opts.limits.max_field_bytes;
        for s in &mut f.sources {
            s.evidence = s
                .evidence
                .take()
                .map(|e| clip(e, max))
                .filter(|e| !e.is_empty());
            s.title = clip(std::mem::take(&mut s.title), max);
        }
        self.set.add(f);
        if self.set.len() > self.opts.limits.max_findings {
            return Err(ImportError::TooManyFindings {
                source_name: self.opts.source_name.clone(),
                limit: self.opts.limits.max_findings,
            });
        }
        Ok(())
    }

    /// Refuses one record of the report; the rest is read.
    pub fn reject(&mut self, record: u64, field: &str, problem: crate::error::Problem) {
        let e = self.opts.reject(record, Some(field), problem);
        self.rejects.push(e);
    }

    /// One report item naming `cves`: one finding per CVE, so that two
    /// scanners naming overlapping CVE sets meet on each shared CVE; one
    /// finding under the scanner's own id when it names none.
    pub fn push_per_cve(
        &mut self,
        asset: &AssetRef,
        location: &Location,
        mut cves: Vec<String>,
        source: FindingSource,
    ) -> Result<(), ImportError> {
        cves.dedup();
        let slots: Vec<Option<String>> = if cves.is_empty() {
            vec![None]
        } else {
            cves.into_iter().map(Some).collect()
        };
        for cve in slots {
            self.push(Finding {
                asset: asset.clone(),
                location: location.clone(),
                cve,
                severity: source.severity,
                sources: vec![source.clone()],
            })?;
        }
        Ok(())
    }

    /// Records a host the report names (for formats without a host
    /// section: Greenbone results, CSV rows), once per asset key.
    pub fn note_host(&mut self, r: &AssetRef, record: u64) {
        let key = r.key();
        if !self.scanned.insert(key) {
            return;
        }
        let ids = r.identities();
        if ids.is_empty() {
            return;
        }
        let prov = crate::model::Provenance::new(
            crate::model::SourceKind::Scan,
            &self.opts.source_name,
            self.opts.at,
        )
        .at_record(record);
        let mut a = Asset::new(crate::model::AssetId(record), self.opts.org.clone());
        a.identities = ids.into_iter().map(|i| prov.fact(i)).collect();
        a.seen(self.opts.at);
        self.assets.push(a);
    }

    pub fn finish(self) -> ScanReport {
        ScanReport {
            scanner: self.scanner,
            source_name: self.opts.source_name.clone(),
            items: self.items,
            findings: self.set.into_vec(),
            scanned: self.scanned,
            assets: self.assets,
            rejects: self.rejects,
        }
    }
}

/// Checks an XML input before serde sees it: size, UTF-8, element depth
/// (serde recurses on nested tables), and no entity declarations. quick-xml
/// never fetches external entities and expands only the predefined ones;
/// refusing `<!ENTITY` up front turns an attempt into a clear error instead
/// of an "unknown entity" further on.
pub(crate) fn check_xml<'b>(bytes: &'b [u8], opts: &ImportOptions) -> Result<&'b str, ImportError> {
    opts.check_size(bytes)?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| ImportError::NotUtf8 {
        source_name: opts.source_name.clone(),
        offset: e.valid_up_to() as u64,
    })?;
    let mut r = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    let line_of = |offset: u64| {
        let end = (offset as usize).min(text.len());
        count_newlines(&text.as_bytes()[..end]) + 1
    };
    loop {
        let pos = r.buffer_position();
        match r.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => {
                depth += 1;
                if depth > opts.limits.max_depth {
                    return Err(ImportError::TooDeep {
                        source_name: opts.source_name.clone(),
                        limit: opts.limits.max_depth,
                        line: line_of(pos),
                        offset: pos,
                    });
                }
            }
            Ok(quick_xml::events::Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(quick_xml::events::Event::DocType(d)) => {
                let raw: &[u8] = d[..].as_bytes();
                if raw.windows(8).any(|w| w.eq_ignore_ascii_case(b"<!ENTITY")) {
                    return Err(ImportError::Dtd {
                        source_name: opts.source_name.clone(),
                        line: line_of(pos),
                        offset: pos,
                    });
                }
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(ImportError::Xml {
                    source_name: opts.source_name.clone(),
                    at: Some((line_of(r.error_position()), r.error_position())),
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(text)
}

fn count_newlines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

/// Deserialises a checked XML document.
pub(crate) fn from_xml<T: DeserializeOwned>(
    text: &str,
    opts: &ImportOptions,
) -> Result<T, ImportError> {
    let mut de = quick_xml::de::Deserializer::from_str(text);
    // Bounds the events buffered while looking ahead for the next item of
    // a list interleaved with other elements.
    de.event_buffer_size(std::num::NonZeroUsize::new(1 << 16));
    T::deserialize(&mut de).map_err(|e| ImportError::Xml {
        source_name: opts.source_name.clone(),
        at: None,
        message: e.to_string(),
    })
}

pub(crate) fn from_json<T: DeserializeOwned>(
    bytes: &[u8],
    opts: &ImportOptions,
) -> Result<T, ImportError> {
    opts.check_size(bytes)?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|e| ImportError::Json {
        source_name: opts.source_name.clone(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// The format of a report, from its first bytes.
pub fn detect(bytes: &[u8]) -> Option<Scanner> {
    let head = &bytes[..bytes.len().min(64 << 10)];
    let head = String::from_utf8_lossy(head);
    let t = head.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('<') {
        if t.contains("<nmaprun") {
            Some(Scanner::Nmap)
        } else if t.contains("<NessusClientData_v2") {
            Some(Scanner::Nessus)
        } else if t.contains("<report") {
            Some(Scanner::OpenVas)
        } else {
            None
        }
    } else if t.starts_with('{') {
        if t.contains("\"matches\"")
            && (t.contains("\"vulnerability\"") || t.contains("\"descriptor\""))
        {
            Some(Scanner::Grype)
        } else if t.contains("\"SchemaVersion\"") || t.contains("\"Results\"") {
            Some(Scanner::Trivy)
        } else if t.contains("\"matches\"") {
            Some(Scanner::Grype)
        } else {
            None
        }
    } else if t
        .lines()
        .next()
        .is_some_and(|l| l.contains(',') || l.contains(';') || l.contains('\t'))
    {
        Some(Scanner::Csv)
    } else {
        None
    }
}

/// Reads a report of any supported format, detected from its content.
pub fn parse_report(bytes: &[u8], opts: &ImportOptions) -> Result<ScanReport, ImportError> {
    match detect(bytes) {
        Some(Scanner::Nmap) => nmap::parse(bytes, opts),
        Some(Scanner::Nessus) => nessus::parse(bytes, opts),
        Some(Scanner::OpenVas) => openvas::parse(bytes, opts),
        Some(Scanner::Trivy) => trivy::parse(bytes, opts),
        Some(Scanner::Grype) => grype::parse(bytes, opts),
        Some(Scanner::Csv) => csv::parse(bytes, opts),
        // `detect` never says Nvd: NVD records are not a scan report.
        Some(Scanner::Nvd) | None => Err(ImportError::Format {
            source_name: opts.source_name.clone(),
            expected: "Nmap/Nessus/Greenbone/Trivy/Grype/CSV",
            reason: "format not recognised from the content".into(),
        }),
    }
}

/// Parses a score like `7.5`; None for empty or out-of-range text.
pub(crate) fn score(s: Option<&str>) -> Option<f32> {
    let v: f32 = s?.trim().parse().ok()?;
    (0.0..=10.0).contains(&v).then_some(v)
}

/// A non-empty trimmed string.
pub(crate) fn nonempty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}
