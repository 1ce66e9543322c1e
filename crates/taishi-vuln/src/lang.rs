//! Bilingual text: every label, reason and explanation the crate produces
//! exists in zh-CN and English, so the console and reports can choose.

use serde::{Deserialize, Serialize};

/// The language a caller wants a text in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Lang {
    /// 简体中文 (the default: Taishi's users are operators in China).
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

/// A text in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Text {
    /// 简体中文.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Text {
    /// A text from its two versions.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::ZhCn => &self.zh,
            Lang::En => &self.en,
        }
    }

    /// Appends another text (both languages), with the separators each
    /// language uses between sentences.
    pub fn push(&mut self, other: &Text) {
        if !self.zh.is_empty() && !other.zh.is_empty() {
            self.zh.push('；');
        }
        self.zh.push_str(&other.zh);
        if !self.en.is_empty() && !other.en.is_empty() {
            self.en.push_str("; ");
        }
        self.en.push_str(&other.en);
    }
}

/// Something with a fixed label in both languages (enums of the model).
pub trait Label {
    /// The label in `lang`.
    fn label(&self, lang: Lang) -> &'static str;
}
