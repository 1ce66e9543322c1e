//! zh-CN titles of SigmaHQ rules, kept as data beside the rules
//! (`data/titles.zh-CN.tsv`: rule id, the English title translated, the
//! zh-CN title), compiled in and read once into a map by rule id.
//!
//! A translation names the English title it was made from: when a rule's
//! title has changed since (SigmaHQ retitles rules), the translation may no
//! longer say the same, so it is not used and the English title stands
//! alone.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The data file, as shipped.
pub const ZH_CN_TSV: &str = include_str!("../data/titles.zh-CN.tsv");

/// At most this many rows are read: the file is ours, but the bound keeps a
/// bad edit from costing more than a few hundred KiB of memory.
const MAX_ROWS: usize = 20_000;

/// One translation: the English title it was made from, and the zh-CN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation<'a> {
    pub en: &'a str,
    pub zh: &'a str,
}

/// The rows of a titles file by rule id: comment (`#`) and blank lines and
/// rows without three non-empty columns are skipped; a later row for the
/// same id wins.
pub fn parse(text: &str) -> HashMap<&str, Translation<'_>> {
    let mut map = HashMap::new();
    for line in text.lines().take(MAX_ROWS) {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split('\t').map(str::trim);
        let (Some(id), Some(en), Some(zh)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        if id.is_empty() || en.is_empty() || zh.is_empty() {
            continue;
        }
        map.insert(id, Translation { en, zh });
    }
    map
}

fn shipped() -> &'static HashMap<&'static str, Translation<'static>> {
    static MAP: OnceLock<HashMap<&'static str, Translation<'static>>> = OnceLock::new();
    MAP.get_or_init(|| parse(ZH_CN_TSV))
}

/// The zh-CN title of rule `id` whose English title is `en`, when the
/// shipped data translates that very title.
pub fn zh(id: &str, en: &str) -> Option<&'static str> {
    lookup(shipped(), id, en)
}

/// [`zh`] over any parsed file.
pub fn lookup<'a>(map: &HashMap<&str, Translation<'a>>, id: &str, en: &str) -> Option<&'a str> {
    map.get(id).filter(|t| t.en == en.trim()).map(|t| t.zh)
}

/// How many rules the shipped data translates.
pub fn count() -> usize {
    shipped().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_translation_of_the_current_title_is_used_a_stale_one_is_not() {
        let map = parse("# comment\nr1\tSuspicious Thing\t可疑的东西\nr2\tOnly two\n\nr3\t\t空\n");
        assert_eq!(lookup(&map, "r1", "Suspicious Thing"), Some("可疑的东西"));
        // SigmaHQ retitled the rule: the translation is of another title.
        assert_eq!(lookup(&map, "r1", "Suspicious Thing Via Cmd"), None);
        assert_eq!(lookup(&map, "r2", "Only two"), None);
        assert_eq!(lookup(&map, "r3", ""), None);
        assert_eq!(lookup(&map, "nope", "Suspicious Thing"), None);
    }

    #[test]
    fn the_shipped_file_translates_at_least_500_rules_each_once() {
        assert!(count() >= 500, "{}", count());
        let mut seen = std::collections::HashSet::new();
        for line in ZH_CN_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 3, "{line}");
            assert!(seen.insert(cols[0]), "twice: {}", cols[0]);
            // A zh-CN title is Chinese, not the English copied.
            assert!(
                cols[2]
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{line}"
            );
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,400}") {
            let m = parse(&s);
            for (id, t) in &m {
                prop_assert_eq!(lookup(&m, id, t.en), Some(t.zh));
            }
        }
    }
}
