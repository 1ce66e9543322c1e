//! Renderings of records for people's tools: CSV for spreadsheets (the
//! JSON-lines export is the stored line itself, [`crate::Record::to_line`];
//! CEF is [`crate::forward::to_cef`]). Used by `taishi audit export` and by
//! the serve API's export.

use crate::{Lang, Record};

/// The CSV header row (without the line break).
pub const CSV_HEADER: &str = "seq,time,actor_id,actor_name,org,roles,source,action,action_label,target,outcome,reason,before,after,prev_hash,hash";

/// One CSV cell (RFC 4180 quoting), defused against spreadsheet formulas:
/// a cell starting with `=`, `+`, `-` or `@` gets a leading `'`.
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// One record as a CSV row (without the line break), labels in `lang`.
pub fn csv_row(r: &Record, lang: Lang) -> String {
    let json =
        |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    let cells = [
        r.seq.to_string(),
        r.time.to_rfc3339(),
        r.actor.id.clone(),
        r.actor.name.clone(),
        r.org.clone(),
        r.roles.join(";"),
        r.source.clone().unwrap_or_default(),
        r.action.clone(),
        r.action_label(lang).to_string(),
        r.target.clone().unwrap_or_default(),
        r.outcome.label(lang).to_string(),
        r.reason.clone().unwrap_or_default(),
        json(&r.before),
        json(&r.after),
        r.prev_hash.clone(),
        r.hash.clone(),
    ];
    cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
    }
}
