//! MITRE ATT&CK Enterprise as versioned local data: the tactics in matrix
//! order (English and zh-CN names), which tactics each technique belongs
//! to, and a short description of every technique.
//!
//! The data is a file in this crate (`data/enterprise-attack-v*.json`),
//! built by `scripts/gen-attack` from MITRE's STIX bundle and compiled in,
//! so an appliance on a network without internet (many CII networks) still
//! explains an ATT&CK id and places it in the right column of the heatmap.
//! A new ATT&CK release is a new data file and a new [`DATA`] path.

use std::collections::HashMap;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The compiled-in data (ATT&CK Enterprise v18.1 techniques, v19 tactics).
pub const DATA: &str = include_str!("../data/enterprise-attack-v18.1.json");

/// A data file larger than this is refused rather than parsed: the current
/// one is ~0.3 MB, descriptions are cut at 400 characters.
pub const MAX_DATA_BYTES: usize = 8 << 20;
/// Enterprise has ~700 techniques with sub-techniques; a file with many
/// more is not ATT&CK Enterprise.
pub const MAX_TECHNIQUES: usize = 5_000;
pub const MAX_TACTICS: usize = 64;
/// `T1234.567` is 9 characters; a longer "id" is not looked up.
const MAX_ID_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    #[error("ATT&CK data is {0} bytes, over the {MAX_DATA_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("ATT&CK data is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("ATT&CK data has {0} tactics or techniques, over the limit")]
    TooMany(usize),
    #[error(
        "ATT&CK technique {technique} names tactic `{tactic}`, which the data's tactic list lacks"
    )]
    UnknownTactic { technique: String, tactic: String },
}

/// A column of the matrix.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Tactic {
    /// `TA0005`.
    pub id: String,
    /// The tag form (`defense-impairment`), as in Sigma's `attack.<shortname>`.
    pub shortname: String,
    pub name: String,
    pub name_zh: String,
    /// Shortnames older releases gave this tactic (`defense-evasion` for
    /// TA0005, Stealth since v19); rules tagged with them land here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub former: Vec<String>,
}

impl Tactic {
    /// The key of the overview's matrix and the console's labels
    /// (`defense_impairment`).
    pub fn key(&self) -> String {
        self.shortname.replace('-', "_")
    }
}

#[derive(Deserialize)]
struct RawTechnique {
    id: String,
    name: String,
    tactics: Vec<String>,
    description: String,
    url: String,
}

#[derive(Deserialize)]
struct RawData {
    attack_version: String,
    tactics: Vec<Tactic>,
    #[serde(default)]
    split_pending: HashMap<String, String>,
    techniques: Vec<RawTechnique>,
}

/// One technique or sub-technique.
#[derive(Debug, Clone)]
pub struct Technique {
    pub id: String,
    pub name: String,
    /// Indexes into [`Attack::tactics`], in matrix order.
    pub tactics: Vec<usize>,
    pub description: String,
    pub url: String,
}

/// What `GET /api/v1/attack/techniques/{id}` answers: the local
/// description of a technique, with the ATT&CK release it comes from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TechniqueInfo {
    /// `T1027` or a sub-technique `T1027.002`.
    pub id: String,
    pub name: String,
    /// The tactics ATT&CK files it under, in matrix order.
    pub tactics: Vec<Tactic>,
    /// The first sentences of MITRE's description (English).
    pub description: String,
    /// The ATT&CK release of the data (`18.1`).
    pub version: String,
    /// The page on attack.mitre.org, for networks that can reach it.
    pub url: String,
}

/// ATT&CK Enterprise: tactics in matrix order and techniques by id.
#[derive(Debug)]
pub struct Attack {
    version: String,
    tactics: Vec<Tactic>,
    techniques: HashMap<String, Technique>,
    /// (carved-out tactic, tactic the data still files its techniques
    /// under), when the data predates the split (v18 data, v19 tactics).
    split_pending: Vec<(usize, usize)>,
}

impl Attack {
    /// Reads a file written by `scripts/gen-attack`.
    pub fn parse(text: &str) -> Result<Attack, AttackError> {
        if text.len() > MAX_DATA_BYTES {
            return Err(AttackError::TooLarge(text.len()));
        }
        let raw: RawData = serde_json::from_str(text)?;
        if raw.tactics.len() > MAX_TACTICS {
            return Err(AttackError::TooMany(raw.tactics.len()));
        }
        if raw.techniques.len() > MAX_TECHNIQUES {
            return Err(AttackError::TooMany(raw.techniques.len()));
        }
        let by_name = |name: &str| raw.tactics.iter().position(|t| t.shortname == name);
        let mut techniques = HashMap::with_capacity(raw.techniques.len());
        for t in raw.techniques {
            let mut tactics = Vec::with_capacity(t.tactics.len());
            for name in &t.tactics {
                let i = by_name(name).ok_or_else(|| AttackError::UnknownTactic {
                    technique: t.id.clone(),
                    tactic: name.clone(),
                })?;
                tactics.push(i);
            }
            tactics.sort_unstable();
            tactics.dedup();
            techniques.insert(
                t.id.to_ascii_uppercase(),
                Technique {
                    id: t.id,
                    name: t.name,
                    tactics,
                    description: t.description,
                    url: t.url,
                },
            );
        }
        let mut split_pending = Vec::new();
        for (new, old) in &raw.split_pending {
            match (by_name(new), by_name(old)) {
                (Some(n), Some(o)) => split_pending.push((n, o)),
                (None, _) | (_, None) => {
                    return Err(AttackError::UnknownTactic {
                        technique: "split_pending".into(),
                        tactic: format!("{new}/{old}"),
                    })
                }
            }
        }
        Ok(Attack {
            version: raw.attack_version,
            tactics: raw.tactics,
            techniques,
            split_pending,
        })
    }

    /// The compiled-in data, read once.
    pub fn embedded() -> &'static Attack {
        static ATTACK: OnceLock<Attack> = OnceLock::new();
        // The file is part of the source tree and a test parses it, so a
        // failure here is a build defect, not an input error.
        ATTACK.get_or_init(|| Attack::parse(DATA).expect("embedded ATT&CK data parses"))
    }

    /// The ATT&CK release of the techniques (`18.1`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// All tactics, in matrix order.
    pub fn tactics(&self) -> &[Tactic] {
        &self.tactics
    }

    /// A tactic by its tag (`stealth`, `defense_impairment`, any case), a
    /// former name (`defense-evasion`) or its id (`TA0005`); its index in
    /// matrix order.
    pub fn tactic(&self, tag: &str) -> Option<usize> {
        if tag.len() > 64 {
            return None;
        }
        let tag = tag.to_ascii_lowercase().replace('_', "-");
        self.tactics.iter().position(|t| {
            t.shortname == tag || t.id.eq_ignore_ascii_case(&tag) || t.former.contains(&tag)
        })
    }

    /// A technique by id (`T1027`, `t1059.001`).
    pub fn technique(&self, id: &str) -> Option<&Technique> {
        if id.len() > MAX_ID_LEN {
            return None;
        }
        self.techniques.get(&id.to_ascii_uppercase())
    }

    /// The answer of the description route.
    pub fn info(&self, id: &str) -> Option<TechniqueInfo> {
        let t = self.technique(id)?;
        Some(TechniqueInfo {
            id: t.id.clone(),
            name: t.name.clone(),
            tactics: t.tactics.iter().map(|&i| self.tactics[i].clone()).collect(),
            description: t.description.clone(),
            version: self.version.clone(),
            url: t.url.clone(),
        })
    }

    /// The columns of the heatmap a rule's technique goes under, as
    /// indexes in matrix order. `rule_tactics` are the tactics the rule
    /// tags ([`Attack::tactic`]).
    ///
    /// A known technique goes under the tactics ATT&CK files it under that
    /// the rule also names (the rule says why it fires); if the rule names
    /// none of them, under all of the technique's own, never under a tactic
    /// ATT&CK does not give it (T1027 is not command and control because
    /// the rule is also tagged so). A tactic carved out after the data's
    /// release (Defense Impairment from Stealth, v19) counts as matching a
    /// technique filed under the older tactic. An unknown technique (newer
    /// than the data) goes under the rule's tactics; empty when it names
    /// none.
    pub fn placement(&self, technique: &str, rule_tactics: &[usize]) -> Vec<usize> {
        let Some(t) = self.technique(technique) else {
            let mut own: Vec<usize> = rule_tactics
                .iter()
                .copied()
                .filter(|&i| i < self.tactics.len())
                .collect();
            own.sort_unstable();
            own.dedup();
            return own;
        };
        let mut hit: Vec<usize> = rule_tactics
            .iter()
            .copied()
            .filter(|r| {
                t.tactics.contains(r)
                    || self
                        .split_pending
                        .iter()
                        .any(|(new, old)| new == r && t.tactics.contains(old))
            })
            .collect();
        hit.sort_unstable();
        hit.dedup();
        if hit.is_empty() {
            t.tactics.clone()
        } else {
            hit
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a() -> &'static Attack {
        Attack::embedded()
    }

    fn keys(v: &[usize]) -> Vec<String> {
        v.iter().map(|&i| a().tactics()[i].key()).collect()
    }

    #[test]
    fn embedded_data_parses_with_the_v19_tactics_in_matrix_order() {
        let names: Vec<&str> = a().tactics().iter().map(|t| t.shortname.as_str()).collect();
        assert_eq!(
            names,
            [
                "reconnaissance",
                "resource-development",
                "initial-access",
                "execution",
                "persistence",
                "privilege-escalation",
                "stealth",
                "defense-impairment",
                "credential-access",
                "discovery",
                "lateral-movement",
                "collection",
                "command-and-control",
                "exfiltration",
                "impact",
            ]
        );
        assert!(a().tactics().iter().all(|t| !t.name_zh.is_empty()));
        assert_eq!(a().version(), "18.1");
        assert!(a().techniques.len() > 600, "{}", a().techniques.len());
    }

    #[test]
    fn new_tactics_and_the_former_name_are_known() {
        let st = a().tactic("stealth").unwrap();
        assert_eq!(a().tactics()[st].id, "TA0005");
        assert_eq!(a().tactic("defense-evasion"), Some(st));
        assert_eq!(a().tactic("Defense_Evasion"), Some(st));
        let di = a().tactic("defense_impairment").unwrap();
        assert_eq!(a().tactics()[di].id, "TA0112");
        assert_eq!(a().tactics()[di].name_zh, "防御削弱");
        assert_eq!(a().tactic("TA0011"), a().tactic("command-and-control"));
        assert_eq!(a().tactic("t1027"), None);
    }

    #[test]
    fn t1027_is_stealth_never_command_and_control() {
        let t = a().technique("t1027").unwrap();
        assert_eq!(t.name, "Obfuscated Files or Information");
        assert_eq!(keys(&t.tactics), ["stealth"]);
        let c2 = a().tactic("command-and-control").unwrap();
        assert_eq!(keys(&a().placement("T1027", &[c2])), ["stealth"]);
        assert_eq!(
            keys(&a().placement("T1071", &[c2])),
            ["command_and_control"]
        );
    }

    #[test]
    fn a_sub_technique_has_its_own_tactics_and_description() {
        let info = a().info("T1059.001").unwrap();
        assert_eq!(info.name, "PowerShell");
        assert_eq!(info.tactics.len(), 1);
        assert_eq!(info.tactics[0].shortname, "execution");
        assert!(info
            .description
            .starts_with("Adversaries may abuse PowerShell"));
        assert!(!info.description.contains("(Citation:"));
        assert!(info.description.chars().count() <= 401);
        assert_eq!(info.url, "https://attack.mitre.org/techniques/T1059/001");
        assert_eq!(info.version, "18.1");
    }

    #[test]
    fn placement_keeps_the_rule_tactics_the_technique_has() {
        // T1053.005 (Scheduled Task) is execution, persistence and
        // privilege escalation: a persistence rule puts it under persistence only.
        let p = a().tactic("persistence").unwrap();
        assert_eq!(keys(&a().placement("T1053.005", &[p])), ["persistence"]);
        let all = a().placement("T1053.005", &[]);
        assert_eq!(
            keys(&all),
            ["execution", "persistence", "privilege_escalation"]
        );
    }

    #[test]
    fn defense_impairment_takes_a_stealth_technique_of_pre_v19_data() {
        let di = a().tactic("defense-impairment").unwrap();
        assert_eq!(
            keys(&a().placement("T1562.001", &[di])),
            ["defense_impairment"]
        );
        // Without the tag, the data's own tactic.
        assert_eq!(keys(&a().placement("T1562.001", &[])), ["stealth"]);
    }

    #[test]
    fn unknown_techniques_fall_under_the_rule_tactics() {
        // T1685 (Disable or Modify Tools) is v19, newer than the data.
        let di = a().tactic("defense-impairment").unwrap();
        assert_eq!(keys(&a().placement("T1685", &[di])), ["defense_impairment"]);
        assert!(a().placement("T1685", &[]).is_empty());
        assert!(a().info("T9999").is_none());
    }

    #[test]
    fn refuses_bad_data() {
        assert!(matches!(Attack::parse("{"), Err(AttackError::Json(_))));
        let bad = r#"{"attack_version":"1","tactics":[],"techniques":[
            {"id":"T1","name":"x","tactics":["nowhere"],"description":"","url":""}]}"#;
        assert!(matches!(
            Attack::parse(bad),
            Err(AttackError::UnknownTactic { .. })
        ));
        let big = " ".repeat(MAX_DATA_BYTES + 1);
        assert!(matches!(Attack::parse(&big), Err(AttackError::TooLarge(_))));
    }

    proptest! {
        #[test]
        fn parse_and_lookups_never_panic(s in ".{0,300}", idx in proptest::collection::vec(0usize..40, 0..6)) {
            let _ = Attack::parse(&s);
            let _ = a().technique(&s);
            let _ = a().tactic(&s);
            let _ = a().placement(&s, &idx);
            let _ = a().placement("T1027", &idx);
        }
    }
}
