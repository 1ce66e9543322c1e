//! Header mapping for CSV and JSON imports, read from the data files in
//! `data/` so that a new alias is a data change, not a code change.

use std::collections::HashMap;

/// Header → field table from one of the `data/*_columns.tsv` files.
pub(crate) struct ColumnMap {
    /// (field, aliases normalised), in file order.
    fields: Vec<(&'static str, Vec<String>)>,
}

pub(crate) const ASSET_COLUMNS: &str = include_str!("../data/asset_columns.tsv");
pub(crate) const FINDING_COLUMNS: &str = include_str!("../data/finding_columns.tsv");

/// Lower-cased, without spaces and the separators people put in headers.
pub(crate) fn normalise_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '.' | '（' | '）' | '(' | ')'))
        .flat_map(char::to_lowercase)
        .collect()
}

impl ColumnMap {
    pub(crate) fn parse(text: &'static str) -> ColumnMap {
        let fields = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('\t'))
            .map(|(f, aliases)| (f, aliases.split('|').map(normalise_header).collect()))
            .collect();
        ColumnMap { fields }
    }

    /// For each field, the index of the first header that is one of its
    /// aliases (aliases earlier in the file win over later ones); and the
    /// headers no field took.
    pub(crate) fn resolve(
        &self,
        headers: &[String],
    ) -> (HashMap<&'static str, usize>, Vec<String>) {
        let norm: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
        let mut taken = vec![false; headers.len()];
        let mut out = HashMap::new();
        for (field, aliases) in &self.fields {
            'alias: for a in aliases {
                for (i, h) in norm.iter().enumerate() {
                    if !taken[i] && h == a {
                        taken[i] = true;
                        out.insert(*field, i);
                        break 'alias;
                    }
                }
            }
        }
        let unmapped = headers
            .iter()
            .zip(&taken)
            .filter(|(_, t)| !**t)
            .map(|(h, _)| h.clone())
            .collect();
        (out, unmapped)
    }
}

/// Splits a multi-valued cell.
pub(crate) fn split_multi(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ';', '，', '；', '|', '\n', '、'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
}
