//! The audit record: who did what, where, to what, with which outcome.

use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical;
use crate::Lang;

/// `prev_hash` of the first record of a trail.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// What a masked secret reads as.
pub const MASK: &str = "***";
/// Longest stored line (one record). Larger settings diffs are replaced by
/// their digest (see [`NewRecord::bounded`]) so that no audit record is lost.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Deepest JSON nesting kept in `before`/`after`.
pub const MAX_JSON_DEPTH: usize = 32;
/// Longest text field (actor, organisation, role, source, target, reason), in characters.
const MAX_FIELD_CHARS: usize = 1024;
/// Most roles kept on one record.
const MAX_ROLES: usize = 32;
/// Largest canonical `before` or `after` kept verbatim.
const MAX_DIFF_BYTES: usize = 24 * 1024;

/// The user behind an action; `id` is stable, `name` is what people read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub id: String,
    pub name: String,
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    /// Refused by authorisation, throttling or lockout.
    Denied,
    /// Attempted and failed (wrong password, invalid input, internal error).
    Failed,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Outcome::Success, Lang::Zh) => "成功",
            (Outcome::Denied, Lang::Zh) => "拒绝",
            (Outcome::Failed, Lang::Zh) => "失败",
            (Outcome::Success, Lang::En) => "success",
            (Outcome::Denied, Lang::En) => "denied",
            (Outcome::Failed, Lang::En) => "failed",
        }
    }
}

/// What a route reports; the trail adds time (when absent), `seq` and the hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    /// When the action happened; `None` takes the trail's clock.
    pub time: Option<DateTime<FixedOffset>>,
    pub actor: Actor,
    /// Organisation id the action was taken in.
    pub org: String,
    pub roles: Vec<String>,
    /// Source address of the client (IP, or IP:port).
    pub source: Option<String>,
    /// Stable action code, e.g. `auth.login` (see [`actions`]).
    pub action: String,
    pub target: Option<String>,
    pub outcome: Outcome,
    /// Why it was denied or failed, for people (free text, not translated).
    pub reason: Option<String>,
    /// Settings before and after the change, secrets already masked
    /// ([`mask_secrets`]).
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl NewRecord {
    /// A record with the required fields; the rest are `None`/empty.
    pub fn new(actor: Actor, org: &str, action: &str, outcome: Outcome) -> NewRecord {
        NewRecord {
            time: None,
            actor,
            org: org.to_string(),
            roles: Vec::new(),
            source: None,
            action: action.to_string(),
            target: None,
            outcome,
            reason: None,
            before: None,
            after: None,
        }
    }

    /// Applies the input limits without dropping the record: long text is cut
    /// (marked with `…`), roles beyond 32 are dropped, and a `before`/`after`
    /// deeper than 32 levels or larger than 24 KiB is replaced by
    /// `{"_omitted": "too large", "bytes": n, "sha256": hex}` (so the change
    /// stays provable against the caller's copy) or `{"_omitted": "too deep"}`.
    pub fn bounded(mut self) -> NewRecord {
        for s in [
            &mut self.actor.id,
            &mut self.actor.name,
            &mut self.org,
            &mut self.action,
        ] {
            cut(s);
        }
        for s in [&mut self.source, &mut self.target, &mut self.reason]
            .into_iter()
            .flatten()
        {
            cut(s);
        }
        self.roles.truncate(MAX_ROLES);
        self.roles.iter_mut().for_each(cut);
        for v in [&mut self.before, &mut self.after].into_iter().flatten() {
            // Checked first and without recursion: serialising a hostile
            // depth would overflow the stack.
            if depth(v) > MAX_JSON_DEPTH {
                *v = serde_json::json!({ "_omitted": "too deep" });
                continue;
            }
            let bytes = canonical::to_vec(v);
            if bytes.len() > MAX_DIFF_BYTES {
                *v = serde_json::json!({
                    "_omitted": "too large",
                    "bytes": bytes.len(),
                    "sha256": canonical::sha256_hex(b"", &bytes),
                });
            }
        }
        self
    }
}

fn cut(s: &mut String) {
    if let Some((i, _)) = s.char_indices().nth(MAX_FIELD_CHARS) {
        s.truncate(i);
        s.push('…');
    }
}

/// Nesting depth, counted without recursion so hostile input cannot overflow the stack.
fn depth(v: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

/// One chained audit record, as stored (one canonical JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// 1 for the first record of a trail, then +1 per record, never reused.
    pub seq: u64,
    /// RFC 3339 with the zone offset of the server.
    pub time: DateTime<FixedOffset>,
    pub actor: Actor,
    pub org: String,
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// `hash` of the record before (hex SHA-256), [`GENESIS_HASH`] for seq 1.
    pub prev_hash: String,
    /// SHA-256 (hex) over the canonical form of every other field.
    pub hash: String,
}

impl Record {
    /// Chains `new` after (`seq - 1`, `prev_hash`).
    pub fn chain(new: NewRecord, seq: u64, prev_hash: &str, now: DateTime<FixedOffset>) -> Record {
        let new = new.bounded();
        let time = new.time.unwrap_or(now);
        // Milliseconds are enough for people and keep the lines short.
        let time = time
            .with_nanosecond(time.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap_or(time);
        let mut r = Record {
            seq,
            time,
            actor: new.actor,
            org: new.org,
            roles: new.roles,
            source: new.source,
            action: new.action,
            target: new.target,
            outcome: new.outcome,
            reason: new.reason,
            before: new.before,
            after: new.after,
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        r.hash = r.compute_hash();
        r
    }

    /// The hash this record should carry (see [`crate::canonical`]).
    pub fn compute_hash(&self) -> String {
        let mut v = serde_json::to_value(self).expect("a record is plain JSON");
        if let Value::Object(m) = &mut v {
            m.remove("hash");
        }
        canonical::sha256_hex(canonical::RECORD_DOMAIN, &canonical::to_vec(&v))
    }

    /// The stored line: canonical JSON, without the newline.
    pub fn to_line(&self) -> Vec<u8> {
        canonical::to_vec(&serde_json::to_value(self).expect("a record is plain JSON"))
    }

    /// The action's label ([`action_label`]).
    pub fn action_label(&self, lang: Lang) -> &str {
        action_label(&self.action, lang)
    }
}

static ACTIONS: OnceLock<Vec<(&'static str, &'static str, &'static str)>> = OnceLock::new();

/// The catalogue of action codes with their zh-CN and English labels
/// (`data/actions.tsv`).
pub fn actions() -> &'static [(&'static str, &'static str, &'static str)] {
    ACTIONS.get_or_init(|| {
        include_str!("../data/actions.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let mut f = l.split('\t');
                let mut next = || f.next().expect("actions.tsv has three columns").trim();
                (next(), next(), next())
            })
            .collect()
    })
}

/// The label of an action code; an unknown code reads as itself.
pub fn action_label(code: &str, lang: Lang) -> &str {
    match actions().iter().find(|a| a.0 == code) {
        Some(&(_, zh, _)) if lang == Lang::Zh => zh,
        Some(&(_, _, en)) => en,
        None => code,
    }
}

static SECRET_KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();

/// Whether a JSON object key names a secret (`data/secret-keys.txt`).
pub fn is_secret_key(key: &str) -> bool {
    let names = SECRET_KEYS.get_or_init(|| {
        include_str!("../data/secret-keys.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    });
    let k: String = key
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    names.iter().any(|n| {
        k == *n
            || (k.len() > n.len() && k.ends_with(n) && k.as_bytes()[k.len() - n.len() - 1] == b'_')
    })
}

/// Replaces the value of every secret key ([`is_secret_key`]) by [`MASK`],
/// at any depth; `null` and `""` stay as they are so a diff still shows a
/// secret being set or cleared. Anything nested deeper than
/// [`MAX_JSON_DEPTH`] is masked whole: it cannot be checked cheaply, and an
/// audit record must never leak a secret.
pub fn mask_secrets(v: &mut Value) {
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        if d > MAX_JSON_DEPTH {
            *v = Value::String(MASK.into());
            continue;
        }
        match v {
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    if is_secret_key(k) {
                        if !(x.is_null() || x.as_str() == Some("")) {
                            *x = Value::String(MASK.into());
                        }
                    } else {
                        stack.push((x, d + 1));
                    }
                }
            }
            Value::Array(a) => stack.extend(a.iter_mut().map(|x| (x, d + 1))),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_known_secrets_at_any_depth() {
        let mut v = json!({
            "outputs": [{"kind": "webhook", "webhook-url": "https://x/?token=1", "headers": {"Authorization": "Bearer x"}}],
            "smtp": {"password": "p", "user": "u", "api_key": null},
            "feeds": {"otx": {"API Key": "k", "keyboard": "kept", "monkey": "kept", "token_ttl": 5}},
        });
        mask_secrets(&mut v);
        assert_eq!(
            v,
            json!({
                "outputs": [{"kind": "webhook", "webhook-url": "***", "headers": {"Authorization": "***"}}],
                "smtp": {"password": "***", "user": "u", "api_key": null},
                "feeds": {"otx": {"API Key": "***", "keyboard": "kept", "monkey": "kept", "token_ttl": 5}},
            })
        );
    }

    #[test]
    fn labels_in_both_languages() {
        assert_eq!(action_label("auth.login_failed", Lang::Zh), "登录失败");
        assert_eq!(action_label("auth.login_failed", Lang::En), "Failed login");
        assert_eq!(action_label("x.unknown", Lang::Zh), "x.unknown");
        assert!(actions().iter().all(|a| a
            .0
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')));
        assert_eq!(Outcome::Denied.label(Lang::Zh), "拒绝");
    }

    #[test]
    fn oversized_settings_are_replaced_by_their_digest() {
        let mut n = NewRecord::new(Actor::default(), "o", "settings.update", Outcome::Success);
        n.after = Some(json!({"big": "x".repeat(100_000)}));
        let mut deep = json!(1);
        for _ in 0..100 {
            deep = json!([deep]);
        }
        n.before = Some(deep);
        n.target = Some("t".repeat(5000));
        let b = n.bounded();
        assert_eq!(b.after.as_ref().unwrap()["_omitted"], "too large");
        assert_eq!(b.before.as_ref().unwrap()["_omitted"], "too deep");
        assert_eq!(b.target.unwrap().chars().count(), MAX_FIELD_CHARS + 1);
    }
}
