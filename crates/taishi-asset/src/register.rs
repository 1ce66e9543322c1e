//! The register: assets of all organisations, merged on shared identities,
//! with a journal of every merge and split so each can be explained.
//!
//! Merge rule: two assets of the same organisation are one when they share
//! a MAC address or an FQDN, or an IP address that both saw within
//! [`MergePolicy::ip_window`] of each other (addresses are reassigned by
//! DHCP; the same address a month apart is not evidence of one machine).
//! Short host names are not a merge key: `web01` exists in many domains.

use crate::lang::Lang;
use crate::model::*;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// When shared identities make two assets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergePolicy {
    /// How far apart two sightings of an IP may be to count as the same
    /// machine.
    pub ip_window: Duration,
}

impl Default for MergePolicy {
    fn default() -> Self {
        MergePolicy {
            ip_window: Duration::days(7),
        }
    }
}

/// Why two assets became one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MergeReason {
    /// Both carried this identity (for an IP, seen within the window).
    Shared { identity: Identity },
    /// An analyst merged them.
    Manual { by: String },
}

impl MergeReason {
    pub fn explain(&self, lang: Lang) -> String {
        match (self, lang) {
            (MergeReason::Shared { identity }, Lang::Zh) => {
                format!("共有{}：{}", identity.kind_label(Lang::Zh), identity)
            }
            (MergeReason::Shared { identity }, Lang::En) => {
                format!("shared {}: {}", identity.kind_label(Lang::En), identity)
            }
            (MergeReason::Manual { by }, Lang::Zh) => format!("由 {by} 手工合并"),
            (MergeReason::Manual { by }, Lang::En) => format!("merged by hand by {by}"),
        }
    }
}

/// One entry of the register's journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Created {
        id: AssetId,
        at: DateTime<Utc>,
    },
    Merged {
        into: AssetId,
        from: AssetId,
        reason: MergeReason,
        at: DateTime<Utc>,
    },
    Split {
        from: AssetId,
        new: AssetId,
        identities: Vec<Identity>,
        by: String,
        at: DateTime<Utc>,
    },
}

/// A register operation that cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("no asset {0}")]
    UnknownAsset(AssetId),
    #[error("assets {0} and {1} belong to different organisations")]
    DifferentOrgs(AssetId, AssetId),
    #[error("asset {0} cannot be merged with itself")]
    SameAsset(AssetId),
    #[error("asset {id} has none of the identities to split off")]
    NothingToSplit { id: AssetId },
    #[error("splitting every identity off asset {id} would leave it empty")]
    WouldEmpty { id: AssetId },
}

impl RegisterError {
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (_, Lang::En) => self.to_string(),
            (RegisterError::UnknownAsset(a), _) => format!("资产 {a} 不存在"),
            (RegisterError::DifferentOrgs(a, b), _) => format!("资产 {a} 与 {b} 属于不同组织"),
            (RegisterError::SameAsset(a), _) => format!("资产 {a} 不能与自身合并"),
            (RegisterError::NothingToSplit { id }, _) => format!("资产 {id} 没有要拆分的标识"),
            (RegisterError::WouldEmpty { id }, _) => format!("拆出全部标识会使资产 {id} 为空"),
        }
    }
}

/// What [`Register::ingest`] did with one incoming asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    pub id: AssetId,
    pub created: bool,
    /// Other assets folded into `id` because the incoming one linked them.
    pub merged: Vec<(AssetId, MergeReason)>,
}

/// All assets, in memory. Storage is the caller's: the register is plain
/// data (serde) and deterministic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Register {
    assets: BTreeMap<AssetId, Asset>,
    next: u64,
    journal: Vec<Change>,
    /// Pairs an analyst split apart: never merged again automatically.
    apart: BTreeSet<(AssetId, AssetId)>,
    #[serde(skip)]
    policy: Option<MergePolicy>,
    /// (organisation, identity) → assets carrying it, so an ingest looks
    /// at the few assets that share an identity, not at all of them.
    /// Rebuilt after deserialisation.
    #[serde(skip)]
    index: HashMap<(OrgId, Identity), BTreeSet<AssetId>>,
    #[serde(skip)]
    indexed: bool,
}

impl Register {
    pub fn new(policy: MergePolicy) -> Register {
        Register {
            policy: Some(policy),
            ..Register::default()
        }
    }

    fn policy(&self) -> MergePolicy {
        self.policy.unwrap_or_default()
    }

    pub fn get(&self, id: AssetId) -> Option<&Asset> {
        self.assets.get(&id)
    }

    pub fn assets(&self) -> impl Iterator<Item = &Asset> {
        self.assets.values()
    }

    pub fn len(&self) -> usize {
        self.assets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    pub fn journal(&self) -> &[Change] {
        &self.journal
    }

    /// The assets of `org` that carry an identity, whatever the time.
    pub fn find(&self, org: &OrgId, id: &Identity) -> Vec<AssetId> {
        if self.indexed {
            let key = (org.clone(), id.clone());
            return self
                .index
                .get(&key)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default();
        }
        self.assets
            .values()
            .filter(|a| &a.org == org && a.has_identity(id))
            .map(|a| a.id)
            .collect()
    }

    fn ensure_index(&mut self) {
        if self.indexed {
            return;
        }
        self.index.clear();
        let ids: Vec<AssetId> = self.assets.keys().copied().collect();
        for id in ids {
            self.index_asset(id);
        }
        self.indexed = true;
    }

    fn index_asset(&mut self, id: AssetId) {
        let Some(a) = self.assets.get(&id) else {
            return;
        };
        for f in &a.identities {
            self.index
                .entry((a.org.clone(), f.value.clone()))
                .or_default()
                .insert(id);
        }
    }

    fn unindex_asset(&mut self, id: AssetId) {
        let Some(a) = self.assets.get(&id) else {
            return;
        };
        for f in &a.identities {
            let key = (a.org.clone(), f.value.clone());
            if let Some(set) = self.index.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    self.index.remove(&key);
                }
            }
        }
    }

    /// Changes one asset in place (what discovery observes on a registered
    /// asset: when it was seen, the software it announces); the index is
    /// kept in step. None when there is no such asset.
    pub fn update<R>(&mut self, id: AssetId, f: impl FnOnce(&mut Asset) -> R) -> Option<R> {
        self.ensure_index();
        self.change(id, f)
    }

    /// Runs a change to one asset with the index kept in step.
    fn change<R>(&mut self, id: AssetId, f: impl FnOnce(&mut Asset) -> R) -> Option<R> {
        self.unindex_asset(id);
        let out = self.assets.get_mut(&id).map(f);
        self.index_asset(id);
        out
    }

    fn apart(&self, a: AssetId, b: AssetId) -> bool {
        self.apart.contains(&(a.min(b), a.max(b)))
    }

    /// The identity that makes `incoming` the same asset as `existing`
    /// under the policy, if any.
    fn shared(&self, existing: &Asset, incoming: &Asset) -> Option<Identity> {
        if existing.org != incoming.org {
            return None;
        }
        let window = self.policy().ip_window;
        for f in &incoming.identities {
            let Some(e) = existing.identities.iter().find(|x| x.value == f.value) else {
                continue;
            };
            match f.value {
                Identity::Mac(_) | Identity::Fqdn(_) => return Some(f.value.clone()),
                Identity::Ip(_) => {
                    // Any sighting of the address on one side within the
                    // window of any on the other.
                    let near = f
                        .provenance
                        .iter()
                        .any(|p| e.provenance.iter().any(|q| (p.at - q.at).abs() <= window));
                    if near {
                        return Some(f.value.clone());
                    }
                }
                Identity::Hostname(_) => {}
            }
        }
        None
    }

    /// Adds an asset read by an import or scan: merged into every asset of
    /// its organisation it shares an identity with (which may join several
    /// existing assets into one), else registered as new.
    pub fn ingest(&mut self, mut incoming: Asset) -> IngestOutcome {
        self.ensure_index();
        // Only assets that carry one of the incoming identities can match.
        let candidates: BTreeSet<AssetId> = incoming
            .identities
            .iter()
            .filter_map(|f| self.index.get(&(incoming.org.clone(), f.value.clone())))
            .flatten()
            .copied()
            .collect();
        let mut matches: Vec<(AssetId, Identity)> = candidates
            .into_iter()
            .filter_map(|id| {
                let a = self.assets.get(&id)?;
                self.shared(a, &incoming).map(|i| (id, i))
            })
            .collect();
        let at = incoming
            .provenance()
            .iter()
            .map(|p| p.at)
            .max()
            .unwrap_or_else(Utc::now);
        if matches.is_empty() {
            let id = self.alloc();
            incoming.id = id;
            self.assets.insert(id, incoming);
            self.index_asset(id);
            self.journal.push(Change::Created { id, at });
            return IngestOutcome {
                id,
                created: true,
                merged: Vec::new(),
            };
        }
        // The oldest asset keeps its id; the rest join it unless an
        // analyst split them apart.
        matches.sort_by_key(|(id, _)| *id);
        let target = matches[0].0;
        let mut merged = Vec::new();
        for (other, identity) in matches.into_iter().skip(1) {
            if self.apart(target, other) {
                // The identities the split gave `other` stay with it: the
                // sighting's provenance goes there, not to `target`.
                let theirs = &self.assets[&other];
                let (to_other, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut incoming.identities)
                    .into_iter()
                    .partition(|f| theirs.has_identity(&f.value));
                incoming.identities = keep;
                self.change(other, |o| {
                    crate::model::merge_list(&mut o.identities, to_other)
                });
                continue;
            }
            self.unindex_asset(other);
            if let Some(a) = self.assets.remove(&other) {
                let reason = MergeReason::Shared { identity };
                self.change(target, |t| t.absorb(a));
                self.journal.push(Change::Merged {
                    into: target,
                    from: other,
                    reason: reason.clone(),
                    at,
                });
                merged.push((other, reason));
            }
        }
        incoming.id = target;
        self.change(target, |t| t.absorb(incoming));
        IngestOutcome {
            id: target,
            created: false,
            merged,
        }
    }

    fn alloc(&mut self) -> AssetId {
        self.next += 1;
        AssetId(self.next)
    }

    /// An analyst merges `from` into `into`.
    pub fn merge(
        &mut self,
        into: AssetId,
        from: AssetId,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<(), RegisterError> {
        if into == from {
            return Err(RegisterError::SameAsset(into));
        }
        let a = self
            .assets
            .get(&into)
            .ok_or(RegisterError::UnknownAsset(into))?;
        let b = self
            .assets
            .get(&from)
            .ok_or(RegisterError::UnknownAsset(from))?;
        if a.org != b.org {
            return Err(RegisterError::DifferentOrgs(into, from));
        }
        self.ensure_index();
        self.unindex_asset(from);
        let b = self.assets.remove(&from).expect("checked");
        self.change(into, |a| a.absorb(b));
        self.apart.remove(&(into.min(from), into.max(from)));
        self.journal.push(Change::Merged {
            into,
            from,
            reason: MergeReason::Manual { by: by.to_string() },
            at,
        });
        Ok(())
    }

    /// An analyst splits identities off an asset into a new one. The new
    /// asset takes those identities and every list fact (port, software,
    /// tag) that only the observations of those identities said; single
    /// facts (owner, levels) stay. The two are kept apart from then on.
    pub fn split(
        &mut self,
        id: AssetId,
        identities: &[Identity],
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<AssetId, RegisterError> {
        let a = self
            .assets
            .get(&id)
            .ok_or(RegisterError::UnknownAsset(id))?;
        let (moving, staying): (Vec<_>, Vec<_>) = a
            .identities
            .iter()
            .cloned()
            .partition(|f| identities.contains(&f.value));
        if moving.is_empty() {
            return Err(RegisterError::NothingToSplit { id });
        }
        if staying.is_empty() {
            return Err(RegisterError::WouldEmpty { id });
        }
        // Observations (source + record) that named a moving identity and
        // none that stays.
        let key = |p: &Provenance| (p.source.clone(), p.record);
        let stay_obs: BTreeSet<_> = staying
            .iter()
            .flat_map(|f| &f.provenance)
            .map(key)
            .collect();
        let move_obs: BTreeSet<_> = moving
            .iter()
            .flat_map(|f| &f.provenance)
            .map(key)
            .filter(|k| !stay_obs.contains(k))
            .collect();
        let only_moving =
            |ps: &[Provenance]| !ps.is_empty() && ps.iter().all(|p| move_obs.contains(&key(p)));
        let new_id = self.alloc();
        self.ensure_index();
        self.unindex_asset(id);
        let a = self.assets.get_mut(&id).expect("checked");
        let mut b = Asset::new(new_id, a.org.clone());
        b.identities = moving;
        a.identities = staying;
        fn take<T>(v: &mut Vec<Fact<T>>, pred: impl Fn(&[Provenance]) -> bool) -> Vec<Fact<T>> {
            let (out, keep): (Vec<_>, Vec<_>) = std::mem::take(v)
                .into_iter()
                .partition(|f| pred(&f.provenance));
            *v = keep;
            out
        }
        b.services = take(&mut a.services, only_moving);
        b.software = take(&mut a.software, only_moving);
        b.tags = take(&mut a.tags, only_moving);
        let times: Vec<_> = b
            .identities
            .iter()
            .flat_map(|f| &f.provenance)
            .map(|p| p.at)
            .collect();
        for t in times {
            b.seen(t);
        }
        self.assets.insert(new_id, b);
        self.index_asset(id);
        self.index_asset(new_id);
        self.apart.insert((id.min(new_id), id.max(new_id)));
        self.journal.push(Change::Split {
            from: id,
            new: new_id,
            identities: identities.to_vec(),
            by: by.to_string(),
            at,
        });
        Ok(new_id)
    }
}
