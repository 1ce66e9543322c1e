//! Merging and splitting assets by hand. The register does the work
//! (`taishi_asset::Register::merge`/`split`); here each change is stored:
//! the assets' rows, who did it, when and why, and the pairs a split keeps
//! apart, so the register loaded at the next start still never merges them
//! automatically.

use std::net::IpAddr;

use chrono::Utc;
use taishi_asset::{AssetId, Identity, Mac};
use taishi_state::risk::finding_id;
use taishi_state::risk_nvd::AssetChangeRow;

use crate::{Risk, RiskError};

/// Longest reason kept.
const MAX_REASON_CHARS: usize = 1_000;
/// Identities moved by one split.
const MAX_SPLIT_IDENTITIES: usize = 1_000;

/// An identity as the register writes it (`ip:10.0.0.5`, `mac:…`,
/// `host:web01`, `fqdn:web01.corp.local`), or a bare address or name.
pub fn parse_identity(s: &str) -> Option<Identity> {
    let s = s.trim();
    let (kind, value) = s.split_once(':').unwrap_or(("", s));
    match kind.to_ascii_lowercase().as_str() {
        "ip" => value.trim().parse::<IpAddr>().ok().map(Identity::Ip),
        "mac" => Mac::parse(value).map(Identity::Mac),
        "host" | "hostname" => {
            let v = value.trim().to_lowercase();
            (!v.is_empty()).then_some(Identity::Hostname(v))
        }
        "fqdn" => {
            let v = value.trim().trim_end_matches('.').to_lowercase();
            (!v.is_empty()).then_some(Identity::Fqdn(v))
        }
        // A bare IPv6 address has colons too.
        _ => s
            .parse::<IpAddr>()
            .ok()
            .map(Identity::Ip)
            .or_else(|| Mac::parse(s).map(Identity::Mac))
            .or_else(|| Identity::name(s)),
    }
}

fn reason_text(reason: &str) -> Result<String, RiskError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(RiskError::Input("a reason is required / 须写明原因".into()));
    }
    if r.chars().count() > MAX_REASON_CHARS {
        return Err(RiskError::TooLarge(format!(
            "reason: at most {MAX_REASON_CHARS} characters / 原因最多 {MAX_REASON_CHARS} 个字符"
        )));
    }
    Ok(r.to_string())
}

fn register_error(e: taishi_asset::RegisterError) -> RiskError {
    RiskError::Input(format!(
        "{} / {}",
        e.message(taishi_asset::Lang::En),
        e.message(taishi_asset::Lang::Zh)
    ))
}

impl Risk {
    fn log_change(
        &self,
        org: &str,
        (asset_id, other_id): (i64, i64),
        change: &str,
        by: &str,
        reason: String,
        identities: Vec<String>,
    ) -> Result<AssetChangeRow, RiskError> {
        let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let row = AssetChangeRow {
            id: finding_id(org, &format!("{change} {asset_id} {other_id} {at}")),
            org: org.into(),
            asset_id,
            other_id,
            change: change.into(),
            by: by.into(),
            reason,
            at,
            identities,
        };
        self.state.add_asset_change(&row)?;
        Ok(row)
    }

    /// An analyst merges asset `from` into `into` (same organisation; the
    /// caller checked both are in its scope): `from`'s findings, scores
    /// and attacks move to `into`, a split that kept them apart is undone.
    pub fn merge_assets(
        &self,
        into: i64,
        from: i64,
        by: &str,
        reason: &str,
    ) -> Result<AssetChangeRow, RiskError> {
        let reason = reason_text(reason)?;
        let org = {
            let mut reg = self.register();
            reg.merge(AssetId(into as u64), AssetId(from as u64), by, Utc::now())
                .map_err(register_error)?;
            self.state.merge_asset_rows(from, into)?;
            self.store(&reg, into)?;
            reg.get(AssetId(into as u64))
                .map(|a| a.org.0.clone())
                .unwrap_or_default()
        };
        self.state.drop_apart(into, from)?;
        let row = self.log_change(&org, (into, from), "merge", by, reason, Vec::new())?;
        self.rematch_nvd(&[into])?;
        self.rescore(into, "merge")?;
        Ok(row)
    }

    /// An analyst splits identities off asset `id` into a new asset; the
    /// two are kept apart from then on (stored, so also after a restart).
    /// Findings stay with `id`.
    pub fn split_asset(
        &self,
        id: i64,
        identities: &[String],
        by: &str,
        reason: &str,
    ) -> Result<AssetChangeRow, RiskError> {
        let reason = reason_text(reason)?;
        if identities.is_empty() || identities.len() > MAX_SPLIT_IDENTITIES {
            return Err(RiskError::Input(format!(
                "identities: 1 to {MAX_SPLIT_IDENTITIES} / 须列出 1 至 {MAX_SPLIT_IDENTITIES} 个标识"
            )));
        }
        let mut parsed = Vec::with_capacity(identities.len());
        for s in identities {
            parsed.push(parse_identity(s).ok_or_else(|| {
                RiskError::Input(format!(
                    "identity `{s}`: ip:…, mac:…, host:… or fqdn:… / 标识 `{s}` 无法识别"
                ))
            })?);
        }
        let (org, new_id) = {
            let mut reg = self.register();
            let new_id = reg
                .split(AssetId(id as u64), &parsed, by, Utc::now())
                .map_err(register_error)?
                .0 as i64;
            self.store(&reg, id)?;
            self.store(&reg, new_id)?;
            let org = reg
                .get(AssetId(id as u64))
                .map(|a| a.org.0.clone())
                .unwrap_or_default();
            (org, new_id)
        };
        self.state.put_apart(&org, id, new_id)?;
        let moved = parsed.iter().map(|i| i.to_string()).collect();
        let row = self.log_change(&org, (id, new_id), "split", by, reason, moved)?;
        self.rematch_nvd(&[id, new_id])?;
        self.rescore(id, "split")?;
        self.rescore(new_id, "split")?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn identities_read_as_the_register_writes_them() {
        for s in [
            "ip:10.0.0.5",
            "mac:00:11:22:33:44:55",
            "host:web01",
            "fqdn:web01.corp.local",
        ] {
            assert_eq!(parse_identity(s).unwrap().to_string(), s);
        }
        assert_eq!(
            parse_identity("10.0.0.5").unwrap().to_string(),
            "ip:10.0.0.5"
        );
        assert_eq!(parse_identity("fe80::1").unwrap().to_string(), "ip:fe80::1");
        assert_eq!(
            parse_identity("WEB01.corp.local.").unwrap().to_string(),
            "fqdn:web01.corp.local"
        );
        assert!(parse_identity("ip:nope").is_none());
        assert!(parse_identity("").is_none());
    }

    proptest! {
        #[test]
        fn parse_identity_never_panics(s in "\\PC{0,80}") {
            let _ = parse_identity(&s);
        }
    }
}
