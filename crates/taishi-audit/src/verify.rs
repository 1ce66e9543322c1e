//! Verification: walks the records and checkpoints and names the first
//! broken record.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::sign::PublicKey;
use crate::store::{AuditStore, ReadItem, StoreError};
use crate::{Checkpoint, Lang, Record, GENESIS_HASH};

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The pinned public key. Without it checkpoint signatures are not
    /// checked (the report says so) and checkpoints do not anchor anything.
    pub key: Option<PublicKey>,
    /// Whether a trail that starts after seq 1 must be anchored by a
    /// checkpoint (true for a data directory; an export from `--since` is not).
    pub require_anchor: bool,
}

/// What is wrong at [`Break::seq`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum BreakKind {
    /// The stored entry does not parse as a record.
    Unreadable { reason: String },
    /// The record's content does not match its own hash: it was edited.
    HashMismatch { stored: String, computed: String },
    /// The record does not chain onto the one before: that one was replaced,
    /// or this one was inserted.
    PrevMismatch { prev_hash: String, expected: String },
    /// The record expected at this seq is missing: `found` came instead
    /// (a record deleted, or two reordered).
    Gap { found: u64 },
    /// The first record kept is not seq 1 and no valid checkpoint signs the
    /// hash its prev_hash names: records before it were removed unsigned.
    Unanchored { prev_hash: String },
    /// A checkpoint line does not parse.
    CheckpointUnreadable { location: String, reason: String },
    /// A checkpoint's signature is not valid for the pinned key.
    CheckpointSignatureInvalid {
        key_id: String,
        expected_key_id: String,
    },
    /// A validly signed checkpoint names another hash for this record.
    CheckpointDisagrees { signed: String, stored: String },
    /// A validly signed checkpoint covers records that are gone: the tail
    /// was cut after `last_seq`.
    Truncated { last_seq: u64, checkpoint_seq: u64 },
}

/// The first 12 hex digits of a hash: enough for people to compare.
fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

impl BreakKind {
    pub fn describe(&self, lang: Lang) -> String {
        use BreakKind::*;
        let zh = lang == Lang::Zh;
        match self {
            Unreadable { reason } if zh => format!("记录无法解析（{reason}）"),
            Unreadable { reason } => format!("the record cannot be read ({reason})"),
            HashMismatch { stored, computed } if zh => {
                format!("哈希不符：记录内容被修改（存储 {}…，计算 {}…）", short(stored), short(computed))
            }
            HashMismatch { stored, computed } => format!(
                "hash mismatch: the record's content was altered (stored {}…, computed {}…)",
                short(stored),
                short(computed)
            ),
            PrevMismatch { prev_hash, expected } if zh => format!(
                "前序哈希不符：前一条记录被替换或本条被插入（prev_hash {}…，应为 {}…）",
                short(prev_hash),
                short(expected)
            ),
            PrevMismatch { prev_hash, expected } => format!(
                "prev_hash mismatch: the record before was replaced or this one inserted (prev_hash {}…, expected {}…)",
                short(prev_hash),
                short(expected)
            ),
            Gap { found } if zh => format!("记录缺失：此处应为该序号，实际为 {found}（记录被删除或顺序被调换）"),
            Gap { found } => format!("record missing: found seq {found} in its place (a record was deleted or two were reordered)"),
            Unanchored { .. } if zh => "之前的记录缺失，且没有签名检查点证明其删除合规".into(),
            Unanchored { .. } => "the records before it are missing and no signed checkpoint anchors their removal".into(),
            CheckpointUnreadable { location, reason } if zh => format!("检查点无法解析（{location}：{reason}）"),
            CheckpointUnreadable { location, reason } => format!("a checkpoint cannot be read ({location}: {reason})"),
            CheckpointSignatureInvalid { key_id, expected_key_id } if zh => {
                format!("检查点签名无效（密钥 {key_id}，应为 {expected_key_id}）")
            }
            CheckpointSignatureInvalid { key_id, expected_key_id } => {
                format!("checkpoint signature invalid (key {key_id}, expected {expected_key_id})")
            }
            CheckpointDisagrees { signed, stored } if zh => format!(
                "与签名检查点不符：检查点签署的哈希为 {}…，记录为 {}…",
                short(signed),
                short(stored)
            ),
            CheckpointDisagrees { signed, stored } => format!(
                "disagrees with a signed checkpoint: it signs hash {}…, the record has {}…",
                short(signed),
                short(stored)
            ),
            Truncated { last_seq, checkpoint_seq } if zh => {
                format!("尾部被截断：最后一条记录为 {last_seq}，而签名检查点已覆盖到 {checkpoint_seq}")
            }
            Truncated { last_seq, checkpoint_seq } => format!(
                "tail truncated: the last record is seq {last_seq} but a signed checkpoint covers seq {checkpoint_seq}"
            ),
        }
    }
}

/// The first broken record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The seq of the first record (or checkpoint) that is wrong or missing.
    pub seq: u64,
    /// Where it is stored (file:line), when known.
    pub location: Option<String>,
    pub kind: BreakKind,
}

impl Break {
    pub fn message(&self, lang: Lang) -> String {
        let at = match (&self.location, lang) {
            (Some(l), Lang::Zh) => format!("（{l}）"),
            (Some(l), Lang::En) => format!(" ({l})"),
            (None, _) => String::new(),
        };
        match lang {
            Lang::Zh => format!("第 {} 条记录{at}：{}", self.seq, self.kind.describe(lang)),
            Lang::En => format!("record seq {}{at}: {}", self.seq, self.kind.describe(lang)),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Records read (up to the break).
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub head_hash: Option<String>,
    pub checkpoints: u64,
    /// Whether checkpoint signatures were checked against a pinned key.
    pub signatures_checked: bool,
    /// The newest checkpoint that agrees with the records.
    pub last_checkpoint_seq: Option<u64>,
    /// The checkpoint that anchors a trail starting after seq 1.
    pub anchored_by: Option<u64>,
    pub broken: Option<Break>,
    pub message_zh: String,
    pub message_en: String,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }

    pub fn message(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.message_zh,
            Lang::En => &self.message_en,
        }
    }
}

/// Verifies a store.
pub fn verify(store: &dyn AuditStore, opts: &VerifyOptions) -> Result<VerifyReport, StoreError> {
    let cps = store.checkpoints()?;
    verify_parts(&mut |visit| store.walk(visit), cps, opts)
}

/// Feeds every stored record, in storage order, to the visitor it is given
/// (which returns `false` to stop).
pub type Walker<'a> =
    dyn FnMut(&mut dyn FnMut(ReadItem<Record>) -> bool) -> Result<(), StoreError> + 'a;

/// Verifies records coming from `walk` against `checkpoints` (for files that
/// are not a store, such as an export).
pub fn verify_parts(
    walk: &mut Walker<'_>,
    checkpoints: Vec<ReadItem<Checkpoint>>,
    opts: &VerifyOptions,
) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport {
        signatures_checked: opts.key.is_some(),
        ..VerifyReport::default()
    };
    // Checkpoint problems, each at the seq it concerns; the smallest seq
    // among these and the record walk's break is the first broken record.
    let mut breaks: Vec<Break> = Vec::new();
    let mut good: BTreeMap<u64, Vec<Checkpoint>> = BTreeMap::new();
    let mut last_seen = 0;
    for c in checkpoints {
        report.checkpoints += 1;
        match c {
            ReadItem::Unreadable { location, reason } => breaks.push(Break {
                seq: last_seen + 1,
                location: Some(location.clone()),
                kind: BreakKind::CheckpointUnreadable { location, reason },
            }),
            ReadItem::Item(c) => {
                last_seen = c.seq;
                match &opts.key {
                    Some(k) if !c.verify(k) => breaks.push(Break {
                        seq: c.seq,
                        location: None,
                        kind: BreakKind::CheckpointSignatureInvalid {
                            key_id: c.key_id.clone(),
                            expected_key_id: k.key_id(),
                        },
                    }),
                    _ => good.entry(c.seq).or_default().push(c),
                }
            }
        }
    }

    let mut prev: Option<(u64, String)> = None;
    let mut walk_break: Option<Break> = None;
    walk(&mut |item| {
        let expected = prev.as_ref().map(|p| p.0 + 1);
        let r = match item {
            ReadItem::Unreadable { location, reason } => {
                walk_break = Some(Break {
                    seq: expected.unwrap_or(1),
                    location: Some(location),
                    kind: BreakKind::Unreadable { reason },
                });
                return false;
            }
            ReadItem::Item(r) => r,
        };
        let mut fail = |kind| {
            walk_break = Some(Break {
                seq: expected.unwrap_or(r.seq),
                location: None,
                kind,
            });
            false
        };
        match &prev {
            Some((pseq, phash)) => {
                if r.seq != pseq + 1 {
                    return fail(BreakKind::Gap { found: r.seq });
                }
                let computed = r.compute_hash();
                if computed != r.hash {
                    return fail(BreakKind::HashMismatch {
                        stored: r.hash.clone(),
                        computed,
                    });
                }
                if &r.prev_hash != phash {
                    return fail(BreakKind::PrevMismatch {
                        prev_hash: r.prev_hash.clone(),
                        expected: phash.clone(),
                    });
                }
            }
            None => {
                let computed = r.compute_hash();
                if computed != r.hash {
                    return fail(BreakKind::HashMismatch {
                        stored: r.hash.clone(),
                        computed,
                    });
                }
                if r.seq <= 1 {
                    if r.seq == 0 || r.prev_hash != GENESIS_HASH {
                        return fail(BreakKind::PrevMismatch {
                            prev_hash: r.prev_hash.clone(),
                            expected: GENESIS_HASH.into(),
                        });
                    }
                } else {
                    let anchor = opts.key.as_ref().and_then(|_| {
                        good.get(&(r.seq - 1))
                            .and_then(|cs| cs.iter().find(|c| c.hash == r.prev_hash))
                    });
                    match anchor {
                        Some(c) => report.anchored_by = Some(c.seq),
                        None if opts.require_anchor => {
                            return fail(BreakKind::Unanchored {
                                prev_hash: r.prev_hash.clone(),
                            })
                        }
                        None => {}
                    }
                }
                report.first_seq = Some(r.seq);
            }
        }
        if let Some(cs) = good.get(&r.seq) {
            if let Some(c) = cs.iter().find(|c| c.hash != r.hash) {
                return fail(BreakKind::CheckpointDisagrees {
                    signed: c.hash.clone(),
                    stored: r.hash.clone(),
                });
            }
            report.last_checkpoint_seq = Some(r.seq);
        }
        report.records += 1;
        report.last_seq = Some(r.seq);
        prev = Some((r.seq, r.hash));
        true
    })?;
    if let Some(b) = walk_break {
        breaks.push(b);
    } else {
        let last = report.last_seq.unwrap_or(0);
        if let Some((&cseq, _)) = good.range(last + 1..).next_back() {
            breaks.push(Break {
                seq: last + 1,
                location: None,
                kind: BreakKind::Truncated {
                    last_seq: last,
                    checkpoint_seq: cseq,
                },
            });
        }
    }
    report.head_hash = prev.map(|p| p.1);
    report.broken = breaks.into_iter().min_by_key(|b| b.seq);
    let (zh, en) = match &report.broken {
        Some(b) => (b.message(Lang::Zh), b.message(Lang::En)),
        None => (
            format!(
                "审计记录完整：{} 条记录（序号 {}–{}），{} 个检查点{}",
                report.records,
                report.first_seq.unwrap_or(0),
                report.last_seq.unwrap_or(0),
                report.checkpoints,
                if report.signatures_checked {
                    "，签名有效"
                } else {
                    "（未提供公钥，未校验签名）"
                }
            ),
            format!(
                "audit trail intact: {} records (seq {}–{}), {} checkpoints{}",
                report.records,
                report.first_seq.unwrap_or(0),
                report.last_seq.unwrap_or(0),
                report.checkpoints,
                if report.signatures_checked {
                    ", signatures valid"
                } else {
                    " (no public key: signatures not checked)"
                }
            ),
        ),
    };
    report.message_zh = zh;
    report.message_en = en;
    Ok(report)
}
