//! Asset inventory imports: CSV and JSON with the column mapping of
//! `data/asset_columns.tsv` (Chinese and English headers), and Nmap XML
//! (in [`crate::scan::nmap`], which also yields findings).

use crate::columns::{split_multi, ColumnMap, ASSET_COLUMNS};
use crate::error::{ImportError, Limits, Problem, RecordError};
use crate::model::*;
use crate::software::Software;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use std::sync::OnceLock;

/// What every import needs to know besides the bytes.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Every imported record belongs to this organisation.
    pub org: OrgId,
    /// File name (or other name) used in provenance and error messages.
    pub source_name: String,
    /// When the import ran: the provenance time of facts that carry none.
    pub at: DateTime<Utc>,
    /// The zone of zone-less times in the input.
    pub zone: FixedOffset,
    /// The scan ran from outside the operator's network, so the open ports
    /// it found are exposure.
    pub external: bool,
    pub limits: Limits,
}

impl ImportOptions {
    pub fn new(org: OrgId, source_name: impl Into<String>, at: DateTime<Utc>) -> ImportOptions {
        ImportOptions {
            org,
            source_name: source_name.into(),
            at,
            zone: FixedOffset::east_opt(0).expect("zero offset"),
            external: false,
            limits: Limits::default(),
        }
    }

    pub(crate) fn check_size(&self, bytes: &[u8]) -> Result<(), ImportError> {
        if bytes.len() > self.limits.max_bytes {
            return Err(ImportError::TooLarge {
                source_name: self.source_name.clone(),
                size: bytes.len(),
                limit: self.limits.max_bytes,
            });
        }
        Ok(())
    }

    pub(crate) fn reject(&self, record: u64, field: Option<&str>, problem: Problem) -> RecordError {
        RecordError {
            source_name: self.source_name.clone(),
            record,
            field: field.map(str::to_string),
            problem,
        }
    }
}

/// The result of one import: the assets read (numbered in file order;
/// [`crate::Register::ingest`] gives them their register ids) and the
/// records refused.
#[derive(Debug, Clone, Default)]
pub struct AssetImport {
    pub assets: Vec<Asset>,
    pub rejects: Vec<RecordError>,
    /// Records read, good and bad.
    pub records: usize,
    /// Headers or keys no field took (shown to the user, who may have
    /// misspelt one).
    pub unmapped_columns: Vec<String>,
}

fn asset_map() -> &'static ColumnMap {
    static MAP: OnceLock<ColumnMap> = OnceLock::new();
    MAP.get_or_init(|| ColumnMap::parse(ASSET_COLUMNS))
}

/// One cell: the field it maps to, the header as written, the value.
struct Cell<'a> {
    field: &'static str,
    header: &'a str,
    value: String,
}

/// Imports an inventory CSV (comma, semicolon or tab separated; a UTF-8
/// BOM is skipped).
pub fn import_csv(bytes: &[u8], opts: &ImportOptions) -> Result<AssetImport, ImportError> {
    let (mut rdr, headers) = open_csv(bytes, opts)?;
    let (map, unmapped) = asset_map().resolve(&headers);
    let mut out = AssetImport {
        unmapped_columns: unmapped,
        ..AssetImport::default()
    };
    for row in rdr.records() {
        let row = row.map_err(|e| csv_error(opts, &e))?;
        let line = row.position().map_or(0, |p| p.line());
        out.records += 1;
        if out.records > opts.limits.max_records {
            return Err(ImportError::TooManyRecords {
                source_name: opts.source_name.clone(),
                limit: opts.limits.max_records,
            });
        }
        let cells: Vec<Cell> = map
            .iter()
            .filter_map(|(field, &i)| {
                let v = row.get(i)?.trim();
                (!v.is_empty()).then(|| Cell {
                    field,
                    header: &headers[i],
                    value: v.to_string(),
                })
            })
            .collect();
        match build_asset(&cells, line, opts) {
            Ok(a) => out.assets.push(a),
            Err(e) => out.rejects.push(e),
        }
    }
    Ok(out)
}

/// A CSV reader over `bytes` (size checked, BOM skipped, separator
/// sniffed) and its header row.
pub(crate) fn open_csv<'b>(
    bytes: &'b [u8],
    opts: &ImportOptions,
) -> Result<(csv::Reader<&'b [u8]>, Vec<String>), ImportError> {
    opts.check_size(bytes)?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(sniff_delimiter(bytes))
        .from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| csv_error(opts, &e))?
        .iter()
        .map(str::to_string)
        .collect();
    Ok((rdr, headers))
}

pub(crate) fn csv_error(opts: &ImportOptions, e: &csv::Error) -> ImportError {
    ImportError::Csv {
        source_name: opts.source_name.clone(),
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    }
}

/// The separator the header line uses most: `,` unless `;` or a tab wins.
fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let count = |c: u8| first.iter().filter(|&&b| b == c).count();
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|&c| (count(c), c == b','))
        .unwrap_or(b',')
}

/// Imports inventory JSON: an array of objects, an object with an
/// `assets` array, or one object per line.
pub fn import_json(bytes: &[u8], opts: &ImportOptions) -> Result<AssetImport, ImportError> {
    opts.check_size(bytes)?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let json_err = |e: serde_json::Error| ImportError::Json {
        source_name: opts.source_name.clone(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    let mut records: Vec<serde_json::Value> = Vec::new();
    for v in serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>() {
        match v.map_err(json_err)? {
            serde_json::Value::Array(a) => records.extend(a),
            serde_json::Value::Object(mut o) if o.get("assets").is_some_and(|a| a.is_array()) => {
                if let Some(serde_json::Value::Array(a)) = o.remove("assets") {
                    records.extend(a);
                }
            }
            other => records.push(other),
        }
        if records.len() > opts.limits.max_records {
            return Err(ImportError::TooManyRecords {
                source_name: opts.source_name.clone(),
                limit: opts.limits.max_records,
            });
        }
    }
    let mut out = AssetImport::default();
    let mut unmapped: Vec<String> = Vec::new();
    for (n, rec) in records.iter().enumerate() {
        let no = n as u64 + 1;
        out.records += 1;
        let Some(obj) = rec.as_object() else {
            out.rejects.push(opts.reject(
                no,
                None,
                Problem::Shape {
                    message: "not a JSON object".into(),
                },
            ));
            continue;
        };
        let keys: Vec<String> = obj.keys().cloned().collect();
        let (map, un) = asset_map().resolve(&keys);
        for u in un {
            if !unmapped.contains(&u) {
                unmapped.push(u);
            }
        }
        let mut cells: Vec<Cell> = Vec::new();
        let mut bad: Option<RecordError> = None;
        for (field, &i) in &map {
            let header = keys[i].as_str();
            let mut push = |v: String| {
                if !v.trim().is_empty() {
                    cells.push(Cell {
                        field,
                        header,
                        value: v,
                    })
                }
            };
            match &obj[header] {
                serde_json::Value::Null => {}
                serde_json::Value::String(s) => push(s.clone()),
                serde_json::Value::Array(items) => {
                    for it in items {
                        match it {
                            serde_json::Value::String(s) => push(s.clone()),
                            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                                push(it.to_string())
                            }
                            // Software lists are often objects:
                            // {"cpe": …} / {"purl": …} / {"name": …, "version": …}.
                            serde_json::Value::Object(o) if *field == "software" => {
                                let get = |k: &str| o.get(k).and_then(|v| v.as_str());
                                match (get("cpe").or(get("purl")), get("name")) {
                                    (Some(id), _) => push(id.to_string()),
                                    (None, Some(n)) => push(match get("version") {
                                        Some(v) => format!("{n}@{v}"),
                                        None => n.to_string(),
                                    }),
                                    (None, None) => {
                                        bad.get_or_insert(
                                            opts.reject(
                                                no,
                                                Some(header),
                                                Problem::Shape {
                                                    message:
                                                        "a software object needs cpe, purl or name"
                                                            .into(),
                                                },
                                            ),
                                        );
                                    }
                                }
                            }
                            _ => {
                                bad.get_or_insert(opts.reject(
                                    no,
                                    Some(header),
                                    Problem::Shape {
                                        message: "array items must be strings or numbers".into(),
                                    },
                                ));
                            }
                        }
                    }
                }
                serde_json::Value::Object(_) => {
                    bad.get_or_insert(opts.reject(
                        no,
                        Some(header),
                        Problem::Shape {
                            message: "objects are not accepted here".into(),
                        },
                    ));
                }
                v => push(v.to_string()),
            }
        }
        if let Some(e) = bad {
            out.rejects.push(e);
            continue;
        }
        match build_asset(&cells, no, opts) {
            Ok(a) => out.assets.push(a),
            Err(e) => out.rejects.push(e),
        }
    }
    out.unmapped_columns = unmapped;
    Ok(out)
}

/// Imports the hosts of an Nmap XML scan as assets (open ports, service
/// and OS CPEs, names); its vulners findings are in
/// [`crate::scan::nmap::parse`]'s report.
pub fn import_nmap(bytes: &[u8], opts: &ImportOptions) -> Result<AssetImport, ImportError> {
    let r = crate::scan::nmap::parse(bytes, opts)?;
    Ok(AssetImport {
        records: r.assets.len() + r.rejects.len(),
        assets: r.assets,
        rejects: r.rejects,
        unmapped_columns: Vec::new(),
    })
}

/// Imports an inventory of any accepted kind, told apart by content: Nmap
/// XML, JSON (`[` or `{`), else CSV.
pub fn import_assets(bytes: &[u8], opts: &ImportOptions) -> Result<AssetImport, ImportError> {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('<') {
        import_nmap(bytes, opts)
    } else if t.starts_with('[') || t.starts_with('{') {
        import_json(bytes, opts)
    } else {
        import_csv(bytes, opts)
    }
}

fn invalid(opts: &ImportOptions, record: u64, c: &Cell, expected: &str) -> RecordError {
    opts.reject(
        record,
        Some(c.header),
        Problem::Invalid {
            value: c.value.chars().take(80).collect(),
            expected: expected.to_string(),
        },
    )
}

/// Builds one asset from its cells; the first bad cell refuses the record
/// whole, so no half-read asset enters the register.
fn build_asset(cells: &[Cell], record: u64, opts: &ImportOptions) -> Result<Asset, RecordError> {
    let prov = Provenance::new(SourceKind::Inventory, &opts.source_name, opts.at).at_record(record);
    let mut a = Asset::new(AssetId(record), opts.org.clone());
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    for c in cells {
        let v = c.value.trim();
        match c.field {
            "ip" => {
                for s in split_multi(v) {
                    let ip = s
                        .parse()
                        .map_err(|_| invalid(opts, record, c, "IP地址 / IP address"))?;
                    push_unique(&mut a.identities, prov.fact(Identity::Ip(ip)));
                }
            }
            "mac" => {
                for s in split_multi(v) {
                    let m = Mac::parse(s)
                        .ok_or_else(|| invalid(opts, record, c, "MAC地址 / MAC address"))?;
                    push_unique(&mut a.identities, prov.fact(Identity::Mac(m)));
                }
            }
            "hostname" | "fqdn" => {
                for s in split_multi(v) {
                    let id = Identity::name(s)
                        .ok_or_else(|| invalid(opts, record, c, "主机名 / host name"))?;
                    push_unique(&mut a.identities, prov.fact(id));
                }
            }
            "name" => a.name = Some(prov.fact(v.to_string())),
            "owner" => a.owner = Some(prov.fact(v.to_string())),
            "business_system" => a.business_system = Some(prov.fact(v.to_string())),
            "sector" => a.sector = Some(prov.fact(v.to_string())),
            "importance" => {
                let i = Importance::parse(v).ok_or_else(|| {
                    invalid(
                        opts,
                        record,
                        c,
                        "一般/较重要/重要/关键 or low/medium/high/critical",
                    )
                })?;
                a.importance = Some(prov.fact(i));
            }
            "cii" => {
                let b = parse_bool(v).ok_or_else(|| invalid(opts, record, c, "是/否 or yes/no"))?;
                a.cii = Some(prov.fact(b));
            }
            "dengbao" => {
                let l = DengbaoLevel::parse(v)
                    .ok_or_else(|| invalid(opts, record, c, "等保级别 1–5 / level 1–5"))?;
                a.dengbao = Some(prov.fact(l));
            }
            "data_level" => {
                let l = DataLevel::parse(v).ok_or_else(|| {
                    invalid(opts, record, c, "一般/重要/核心 or general/important/core")
                })?;
                a.data_level = Some(prov.fact(l));
            }
            "exposed_ports" | "ports" => {
                for s in split_multi(v) {
                    let svc = Service::parse(s, c.field == "exposed_ports").ok_or_else(|| {
                        invalid(opts, record, c, "端口，如 tcp/443 / a port such as tcp/443")
                    })?;
                    crate::model::merge_services(&mut a.services, vec![prov.fact(svc)]);
                }
            }
            "software" => {
                for s in software_items(v) {
                    let sw = Software::parse_cell(s).map_err(|_| {
                        invalid(
                            opts,
                            record,
                            c,
                            "CPE 2.3、purl 或 名称 版本 / CPE 2.3, purl or name version",
                        )
                    })?;
                    push_unique(&mut a.software, prov.fact(sw));
                }
            }
            "tags" => {
                for s in split_multi(v) {
                    push_unique(&mut a.tags, prov.fact(s.to_string()));
                }
            }
            "first_seen" | "last_seen" => {
                let t = parse_time(v, opts.zone).ok_or_else(|| {
                    invalid(
                        opts,
                        record,
                        c,
                        "时间，如 2026-01-31 08:00:00 / a time such as 2026-01-31T08:00:00Z",
                    )
                })?;
                times.push(t);
            }
            _ => {}
        }
    }
    if a.identities.is_empty() {
        return Err(opts.reject(record, None, Problem::NoIdentity));
    }
    for t in times {
        a.seen(t);
    }
    Ok(a)
}

/// Software cells hold CPEs (with `:` inside) and purls (with `,` only in
/// qualifiers, rare): split on new lines and `;`/`|` first, and on commas
/// only when no CPE or purl is present.
fn software_items(v: &str) -> Vec<&str> {
    let hard: Vec<&str> = v
        .split(['\n', ';', '；', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    hard.into_iter()
        .flat_map(|s| {
            let l = s.to_ascii_lowercase();
            if l.contains("cpe:") || l.contains("pkg:") {
                s.split(|c: char| c == ',' || c.is_whitespace())
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .collect::<Vec<_>>()
            } else {
                s.split([',', '，'])
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .collect()
            }
        })
        .collect()
}

pub(crate) fn push_unique<T: PartialEq>(v: &mut Vec<Fact<T>>, f: Fact<T>) {
    crate::model::merge_list(v, vec![f]);
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "是" | "有" | "关基" => Some(true),
        "0" | "false" | "no" | "n" | "否" | "无" | "非关基" => Some(false),
        _ => None,
    }
}

/// RFC 3339, or a zone-less `YYYY-MM-DD[ HH:MM[:SS]]` (also with `/`)
/// read in `zone`; a Unix time in seconds.
pub(crate) fn parse_time(s: &str, zone: FixedOffset) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let norm = s.replace('/', "-");
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(&norm, f) {
            return zone
                .from_local_datetime(&n)
                .single()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(&norm, "%Y-%m-%d") {
        let n = d.and_hms_opt(0, 0, 0)?;
        return zone
            .from_local_datetime(&n)
            .single()
            .map(|t| t.with_timezone(&Utc));
    }
    if s.len() >= 9 && s.chars().all(|c| c.is_ascii_digit()) {
        return DateTime::from_timestamp(s.parse().ok()?, 0);
    }
    None
}
