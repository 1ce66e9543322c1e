//! Grading: each kind's GB/T 35273 personal-information category and default
//! GB/T 43697 level (data/grading.txt, replaceable per deployment), a
//! location's grade from the kinds and the people found there, and the grade of
//! a leak by the number of people.

use crate::data::{lines, DataError, GRADING};
use crate::kind::{Kind, Lang};

/// A data level (GB/T 43697-2024), ordered from least to most protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// 一般数据, with a deployment's sub-level 1-4.
    General(u8),
    /// 重要数据.
    Important,
    /// 核心数据.
    Core,
}

impl Level {
    pub fn code(self) -> String {
        match self {
            Level::General(n) => format!("general-{n}"),
            Level::Important => "important".into(),
            Level::Core => "core".into(),
        }
    }

    fn parse(s: &str) -> Option<Level> {
        match s {
            "important" => Some(Level::Important),
            "core" => Some(Level::Core),
            _ => {
                let n: u8 = s.strip_prefix("general-")?.parse().ok()?;
                (1..=4).contains(&n).then_some(Level::General(n))
            }
        }
    }

    pub fn label(self, lang: Lang) -> String {
        match (self, lang) {
            (Level::General(n), Lang::Zh) => format!("一般（{n}级）"),
            (Level::General(n), Lang::En) => format!("general (sub-level {n})"),
            (Level::Important, Lang::Zh) => "重要".into(),
            (Level::Important, Lang::En) => "important".into(),
            (Level::Core, Lang::Zh) => "核心".into(),
            (Level::Core, Lang::En) => "core".into(),
        }
    }
}

macro_rules! categories {
    ($($v:ident = $code:literal, $zh:literal, $en:literal;)*) => {
        /// A personal-information category (GB/T 35273-2020 附录 A).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Category { $($v,)* }
        impl Category {
            pub fn code(self) -> &'static str { match self { $(Category::$v => $code,)* } }
            fn parse(s: &str) -> Option<Category> { match s { $($code => Some(Category::$v),)* _ => None } }
            pub fn label(self, lang: Lang) -> &'static str {
                match (self, lang) { $((Category::$v, Lang::Zh) => $zh, (Category::$v, Lang::En) => $en,)* }
            }
        }
    };
}

categories! {
    Identity = "identity", "个人身份信息", "personal identity information";
    Property = "property", "个人财产信息", "personal property information";
    Authentication = "authentication", "鉴别信息（口令、密钥）", "authentication information (passwords, keys)";
    Basic = "basic", "个人基本资料", "basic personal data";
    NetworkId = "network_id", "网络身份标识信息", "network identifiers";
    Organisation = "organisation", "组织标识（非个人信息）", "organisation identifier (not personal)";
    Other = "other", "其他信息", "other information";
}

/// The grade of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grade {
    pub category: Category,
    /// 个人敏感信息 (GB/T 35273 附录 B).
    pub sensitive: bool,
    pub level: Level,
}

/// The grade of a leak by people affected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IncidentGrade {
    /// 一般: below the first threshold.
    General,
    /// 较大.
    Larger,
    /// 重大.
    Major,
    /// 特别重大.
    ExtraMajor,
}

impl IncidentGrade {
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (IncidentGrade::General, Lang::Zh) => "一般",
            (IncidentGrade::Larger, Lang::Zh) => "较大",
            (IncidentGrade::Major, Lang::Zh) => "重大",
            (IncidentGrade::ExtraMajor, Lang::Zh) => "特别重大",
            (IncidentGrade::General, Lang::En) => "ordinary",
            (IncidentGrade::Larger, Lang::En) => "relatively major",
            (IncidentGrade::Major, Lang::En) => "major",
            (IncidentGrade::ExtraMajor, Lang::En) => "extraordinarily major",
        }
    }
}

/// The grading table.
#[derive(Clone, Debug)]
pub struct Grading {
    grades: Vec<Option<Grade>>,
    incident: Vec<(u64, IncidentGrade)>,
    important_at: Option<u64>,
}

impl Grading {
    /// The embedded default (data/grading.txt).
    pub fn builtin() -> Result<Grading, DataError> {
        Self::parse("grading.txt", GRADING)
    }

    /// A deployment's own table in the same format; every kind must be graded.
    pub fn parse(file: &'static str, text: &str) -> Result<Grading, DataError> {
        let bad = |line, what: String| DataError::Line { file, line, what };
        let mut g = Grading {
            grades: vec![None; Kind::ALL.len()],
            incident: Vec::new(),
            important_at: None,
        };
        for (n, l) in lines(text) {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            match f.as_slice() {
                ["incident", people, grade] => {
                    let people = people
                        .parse()
                        .map_err(|_| bad(n, format!("{people:?} is not a count")))?;
                    let grade = match *grade {
                        "larger" => IncidentGrade::Larger,
                        "major" => IncidentGrade::Major,
                        "extra-major" => IncidentGrade::ExtraMajor,
                        _ => return Err(bad(n, format!("unknown incident grade {grade:?}"))),
                    };
                    g.incident.push((people, grade));
                }
                ["important-at", people] => {
                    g.important_at = Some(
                        people
                            .parse()
                            .map_err(|_| bad(n, format!("{people:?} is not a count")))?,
                    );
                }
                [kind, cat, sens, level] => {
                    let k = Kind::from_code(kind)
                        .ok_or_else(|| bad(n, format!("unknown kind {kind:?}")))?;
                    let grade = Grade {
                        category: Category::parse(cat)
                            .ok_or_else(|| bad(n, format!("unknown category {cat:?}")))?,
                        sensitive: match *sens {
                            "yes" => true,
                            "no" => false,
                            _ => {
                                return Err(bad(
                                    n,
                                    format!("sensitive must be yes or no, not {sens:?}"),
                                ))
                            }
                        },
                        level: Level::parse(level)
                            .ok_or_else(|| bad(n, format!("unknown level {level:?}")))?,
                    };
                    g.grades[k as usize] = Some(grade);
                }
                _ => {
                    return Err(bad(
                        n,
                        "expected 'kind | category | sensitive | level'".into(),
                    ))
                }
            }
        }
        if let Some(k) = Kind::ALL.iter().find(|k| g.grades[**k as usize].is_none()) {
            return Err(bad(0, format!("kind {k} is not graded")));
        }
        g.incident.sort_unstable();
        Ok(g)
    }

    /// The grade of one kind.
    pub fn grade(&self, kind: Kind) -> Grade {
        // parse() refuses a table that leaves a kind out.
        self.grades[kind as usize].unwrap_or(Grade {
            category: Category::Other,
            sensitive: false,
            level: Level::General(1),
        })
    }

    /// The grade of a data location holding these kinds and this many people:
    /// the highest level of its kinds, 重要 once it holds the PI of
    /// `important-at` people or more; sensitive if any kind is.
    pub fn location(&self, kinds: impl IntoIterator<Item = Kind>, people: u64) -> Option<Grade> {
        let mut best: Option<Grade> = None;
        let mut sensitive = false;
        for k in kinds {
            let g = self.grade(k);
            sensitive |= g.sensitive;
            if best.is_none_or(|b| g.level > b.level) {
                best = Some(g);
            }
        }
        let mut g = best?;
        g.sensitive = sensitive;
        if self.important_at.is_some_and(|t| people >= t)
            && g.level < Level::Important
            && g.category != Category::Organisation
        {
            g.level = Level::Important;
        }
        Some(g)
    }

    /// The grade of a leak of personal information of `people` persons.
    pub fn incident(&self, people: u64) -> IncidentGrade {
        self.incident
            .iter()
            .rev()
            .find(|(t, _)| people >= *t)
            .map_or(IncidentGrade::General, |(_, g)| *g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_grades() {
        let g = Grading::builtin().unwrap();
        assert_eq!(g.grade(Kind::CnResidentId).level, Level::General(4));
        assert!(g.grade(Kind::BankCard).sensitive);
        assert_eq!(g.incident(999_999), IncidentGrade::General);
        assert_eq!(g.incident(1_000_000), IncidentGrade::Larger);
        assert_eq!(g.incident(10_000_000), IncidentGrade::Major);
        assert_eq!(g.incident(100_000_000), IncidentGrade::ExtraMajor);
        let loc = g
            .location([Kind::CnMobile, Kind::PersonName], 2_000_000)
            .unwrap();
        assert_eq!(loc.level, Level::Important);
        assert_eq!(
            g.location([Kind::CnMobile], 10).unwrap().level,
            Level::General(3)
        );
        assert!(Grading::parse("x", "cn_resident_id | identity | yes | general-9").is_err());
    }
}
