//! Small readers for the evaluation data: Zeek TSV logs (optionally
//! gzipped) and `label,qname` CSVs. Test-only: the runtime gets its records
//! from Taishi's decoders.
#![allow(dead_code)]

use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

/// A Zeek TSV log: the `#fields` header and the rows.
pub struct ZeekLog {
    pub fields: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl ZeekLog {
    pub fn read(path: &Path) -> ZeekLog {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = if path.extension().is_some_and(|e| e == "gz") {
            let mut s = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut s)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            String::from_utf8_lossy(&s).into_owned()
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let mut fields = Vec::new();
        let mut rows = Vec::new();
        for line in text.lines() {
            if let Some(f) = line.strip_prefix("#fields\t") {
                fields = f.split('\t').map(str::to_string).collect();
            } else if !line.starts_with('#') && !line.is_empty() {
                rows.push(line.split('\t').map(str::to_string).collect());
            }
        }
        assert!(!fields.is_empty(), "{}: no #fields header", path.display());
        ZeekLog { fields, rows }
    }

    pub fn col(&self, name: &str) -> usize {
        self.fields
            .iter()
            .position(|f| f == name)
            .unwrap_or_else(|| panic!("no field {name} in {:?}", self.fields))
    }
}

pub fn ts_ms(s: &str) -> i64 {
    (s.parse::<f64>().unwrap_or(0.0) * 1000.0) as i64
}

pub fn num(s: &str) -> u64 {
    s.parse().unwrap_or(0)
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|_| panic!("bad ip {s}"))
}

/// Flow records of a Zeek conn.log.
pub fn conn_records(log: &ZeekLog) -> Vec<taishi_anomaly::FlowRecord> {
    let (ts, o, r, p, pr, d, ob, rb, st) = (
        log.col("ts"),
        log.col("id.orig_h"),
        log.col("id.resp_h"),
        log.col("id.resp_p"),
        log.col("proto"),
        log.col("duration"),
        log.col("orig_bytes"),
        log.col("resp_bytes"),
        log.col("conn_state"),
    );
    log.rows
        .iter()
        .map(|row| taishi_anomaly::FlowRecord {
            ts_ms: ts_ms(&row[ts]),
            src: ip(&row[o]),
            dst: ip(&row[r]),
            dst_port: row[p].parse().unwrap_or(0),
            transport: taishi_anomaly::Transport::parse(&row[pr]),
            orig_bytes: num(&row[ob]),
            resp_bytes: num(&row[rb]),
            duration_ms: (row[d].parse::<f64>().unwrap_or(0.0) * 1000.0) as i64,
            state: taishi_anomaly::ConnState::from_zeek(&row[st]),
        })
        .collect()
}

/// `label,qname` rows of a CSV (bytes read lossily: tunnel names carry
/// arbitrary bytes).
pub fn label_qnames(path: &Path) -> Vec<(bool, String)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8_lossy(&bytes)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut it = l.splitn(3, ',');
            let label = it.next()?;
            let q = it.next()?;
            Some((label == "1", q.to_string()))
        })
        .collect()
}
