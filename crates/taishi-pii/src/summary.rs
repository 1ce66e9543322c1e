//! What a data location (a file, a table column, an event field) holds, as a
//! report may show it: per kind a count, the highest confidence and a few
//! masked examples; the distinct people; the grade. It never holds a raw value,
//! so it can be stored and sent as it is.

use crate::count::{CounterSnapshot, Estimate, PersonCounter, PersonKey};
use crate::grade::{Grade, Grading};
use crate::kind::{Kind, KindSet};
use crate::mask::{MaskKey, MaskMode, Masker};
use crate::scan::Finding;
use std::collections::BTreeMap;

/// One kind at one location.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KindSummary {
    pub count: u64,
    pub max_confidence: f32,
    /// Up to `LocationSummary::max_examples` distinct partial masks.
    pub examples: Vec<String>,
}

/// The findings of one location, accumulated over any number of inputs.
#[derive(Clone, Debug)]
pub struct LocationSummary {
    pub kinds: BTreeMap<Kind, KindSummary>,
    /// Kinds whose values identify a person for the count (default: resident IDs).
    pub person_kinds: KindSet,
    pub max_examples: usize,
    people: PersonCounter,
    key: MaskKey,
}

impl LocationSummary {
    /// An empty summary; `key` keys the person hashes (the deployment's masking key).
    pub fn new(key: MaskKey) -> LocationSummary {
        LocationSummary {
            kinds: BTreeMap::new(),
            person_kinds: KindSet::EMPTY.with(Kind::CnResidentId),
            max_examples: 3,
            people: PersonCounter::default(),
            key,
        }
    }

    /// Takes in the findings of one input (their spans index `input`).
    pub fn add(&mut self, masker: &Masker, input: &[u8], findings: &[Finding]) {
        for f in findings {
            let s = self.kinds.entry(f.kind).or_default();
            s.count += 1;
            s.max_confidence = s.max_confidence.max(f.confidence);
            if s.examples.len() < self.max_examples {
                let ex = String::from_utf8_lossy(&masker.replacement(input, f, MaskMode::Partial))
                    .into_owned();
                if !s.examples.contains(&ex) {
                    s.examples.push(ex);
                }
            }
            if self.person_kinds.contains(f.kind) {
                self.people
                    .insert(PersonKey::of(&self.key, f.kind, &f.normalised(input)));
            }
        }
    }

    /// Takes in another summary of the same location (or of the locations of one incident).
    pub fn merge(&mut self, o: &LocationSummary) {
        for (k, s) in &o.kinds {
            let m = self.kinds.entry(*k).or_default();
            m.count += s.count;
            m.max_confidence = m.max_confidence.max(s.max_confidence);
            for ex in &s.examples {
                if m.examples.len() < self.max_examples && !m.examples.contains(ex) {
                    m.examples.push(ex.clone());
                }
            }
        }
        self.people.merge(&o.people);
    }

    /// The person counter as it can be kept on disk (see [`PersonCounter::snapshot`]).
    pub fn people_snapshot(&self, max_keys: usize) -> CounterSnapshot {
        self.people.snapshot(max_keys)
    }

    /// A summary read back from disk: its kinds and its people's snapshot
    /// (`None` when the snapshot is damaged).
    pub fn restore(
        key: MaskKey,
        kinds: BTreeMap<Kind, KindSummary>,
        people: &CounterSnapshot,
    ) -> Option<LocationSummary> {
        let mut s = LocationSummary::new(key);
        s.people = PersonCounter::restore(100_000, people)?;
        s.kinds = kinds;
        Some(s)
    }

    /// Distinct people found here.
    pub fn people(&self) -> Estimate {
        self.people.estimate()
    }

    /// The location's grade from its kinds and people (None when nothing was found).
    pub fn grade(&self, g: &Grading) -> Option<Grade> {
        g.location(self.kinds.keys().copied(), self.people().count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Level, MaskPolicy, ScanConfig, Scanner};

    #[test]
    fn summary_without_raw_values() {
        let key = MaskKey::new(&[1u8; 32]).unwrap();
        let m = Masker::new(
            Scanner::new(ScanConfig::default()).unwrap(),
            key.clone(),
            MaskPolicy::default(),
        );
        let mut s = LocationSummary::new(key);
        for text in [
            "身份证 11010119900307803X 手机 13800138000",
            "身份证 11010119900307803x",
            "身份证号 440305200002290002",
        ] {
            let f = m.scanner().scan(text.as_bytes());
            s.add(&m, text.as_bytes(), &f.findings);
        }
        assert_eq!(s.kinds[&Kind::CnResidentId].count, 3);
        assert_eq!(s.people().count, 2);
        let json = serde_json::to_string(&s.kinds).unwrap();
        assert!(
            !json.contains("19900307") && !json.contains("00138000"),
            "{json}"
        );
        assert_eq!(
            s.grade(&Grading::builtin().unwrap()).unwrap().level,
            Level::General(4)
        );
    }
}
