//! What a password must be.

use serde::{Deserialize, Serialize};

use crate::Lang;

/// `[auth.password]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// Of lower case, upper case, digits and other characters.
    pub min_classes: usize,
    /// Earlier passwords that may not be used again.
    pub history: usize,
    /// Days after which a password must be changed (0: never).
    pub max_age_days: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            min_classes: 3,
            history: 5,
            max_age_days: 90,
        }
    }
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("password: at least {0} characters")]
    TooShort(usize),
    #[error("password: use at least {0} of lower case, upper case, digits and symbols")]
    TooSimple(usize),
    #[error("password: must not contain the user name")]
    ContainsName,
    #[error("password: must differ from the last {0} passwords")]
    Reused(usize),
}

impl PolicyError {
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (_, Lang::En) => self.to_string(),
            (PolicyError::TooShort(n), Lang::Zh) => format!("密码至少 {n} 个字符"),
            (PolicyError::TooSimple(n), Lang::Zh) => {
                format!("密码须包含小写字母、大写字母、数字、符号中的至少 {n} 类")
            }
            (PolicyError::ContainsName, Lang::Zh) => "密码不得包含用户名".into(),
            (PolicyError::Reused(n), Lang::Zh) => format!("新密码不得与最近 {n} 次使用的密码相同"),
        }
    }
}

impl PasswordPolicy {
    /// Checks a new password's form (history is checked by the caller, who
    /// holds the earlier hashes: see [`PasswordPolicy::history`]).
    pub fn check(&self, pw: &str, username: &str) -> Result<(), PolicyError> {
        if pw.chars().count() < self.min_length {
            return Err(PolicyError::TooShort(self.min_length));
        }
        let classes = [
            pw.chars().any(|c| c.is_lowercase()),
            pw.chars().any(|c| c.is_uppercase()),
            pw.chars().any(|c| c.is_ascii_digit()),
            pw.chars().any(|c| !c.is_alphanumeric()),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if classes < self.min_classes.min(4) {
            return Err(PolicyError::TooSimple(self.min_classes.min(4)));
        }
        let name = username.to_lowercase();
        if name.chars().count() >= 3 && pw.to_lowercase().contains(&name) {
            return Err(PolicyError::ContainsName);
        }
        Ok(())
    }

    /// Whether a password set `age_days` ago must be changed now.
    pub fn expired(&self, age_days: i64) -> bool {
        self.max_age_days > 0 && age_days >= self.max_age_days as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_classes_and_the_user_name_are_checked() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("Short1!", "alice"), Err(PolicyError::TooShort(12)));
        assert_eq!(
            p.check("alllowercaseletters", "alice"),
            Err(PolicyError::TooSimple(3))
        );
        assert_eq!(
            p.check("Alice-2026-spring", "alice"),
            Err(PolicyError::ContainsName)
        );
        p.check("Tai-shi 2026 spring", "alice").unwrap();
        // Chinese characters count as symbols (not lower or upper case).
        p.check("态势感知平台Admin2026", "ops").unwrap();
        assert!(PolicyError::TooShort(12).message(Lang::Zh).contains("12"));
        assert!(p.expired(90) && !p.expired(89));
        assert!(!PasswordPolicy {
            max_age_days: 0,
            ..p
        }
        .expired(10_000));
    }
}
