//! A hash map with a hard cap on its entries.

use std::hash::Hash;

use std::collections::hash_map::Entry;

use foldhash::HashMap;

/// One table's fill, for the operator (`GET /anomaly/status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableStatus {
    /// Which table (`beacon.pairs`, `scan.ports` …).
    pub name: &'static str,
    pub entries: usize,
    pub cap: usize,
    /// Entries evicted so far to stay under the cap.
    pub evicted: u64,
}

/// A map that never holds more than `cap` entries, evicting the least
/// recently used half in one step: two generations, `young` and `old`, each
/// at most `cap / 2`. New keys go into `young`; a key found in `old` moves to
/// `young`; when `young` is full, `old` (whatever was not touched since the
/// last turn) is dropped whole and `young` becomes `old`.
///
/// Why not an exact LRU: exact eviction needs either a linked list touched
/// on every hit or a scan over all entries to find the oldest; the scan over
/// a table of 100,000 beacon pairs is memory-bound and cost more per record
/// than the detector itself. Here a hit is one probe, a miss two, and
/// eviction is a free of the old half, with no scan. The table holds between
/// `cap / 2` and `cap` entries once full.
#[derive(Debug, Clone)]
pub struct BoundedMap<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    cap: usize,
    evicted: u64,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// A map holding at most `cap` entries (at least 2).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(2);
        BoundedMap {
            young: HashMap::with_capacity_and_hasher((cap / 2).min(1 << 16), Default::default()),
            old: HashMap::default(),
            cap,
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.young.is_empty() && self.old.is_empty()
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Entries evicted so far (a health figure for the operator).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Its fill under `name`.
    pub fn status(&self, name: &'static str) -> TableStatus {
        TableStatus {
            name,
            entries: self.len(),
            cap: self.cap,
            evicted: self.evicted,
        }
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.young.get(k).or_else(|| self.old.get(k))
    }

    /// The entry for `k`, created with `make` when absent, marked as used.
    /// A hit in the young generation is one probe (plus a clone of the key,
    /// which is `Copy` or small for every table in this crate).
    pub fn entry_or_insert_with(&mut self, k: &K, make: impl FnOnce() -> V) -> &mut V {
        // Turn generations only when young is full and `k` would be new in
        // it: then the entry API below cannot be invalidated.
        if self.young.len() >= self.cap / 2 && !self.young.contains_key(k) {
            // A key in the old generation survives the turn that drops it.
            let carried = self.old.remove_entry(k);
            self.evicted += self.old.len() as u64;
            self.old = std::mem::take(&mut self.young);
            self.young = HashMap::with_capacity_and_hasher(self.old.len(), Default::default());
            if let Some((key, v)) = carried {
                return self.young.entry(key).or_insert(v);
            }
        }
        match self.young.entry(k.clone()) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(self.old.remove(k).unwrap_or_else(make)),
        }
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.young.remove(k).or_else(|| self.old.remove(k))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.young.iter().chain(self.old.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.young.iter_mut().chain(self.old.iter_mut())
    }

    /// Copies of all entries, least recently used generation first (the
    /// order [`load`](Self::load) wants to keep recency).
    pub fn entries(&self) -> Vec<(K, V)>
    where
        V: Clone,
    {
        self.old
            .iter()
            .chain(self.young.iter())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Inserts saved entries in order, replacing equal keys; the cap holds
    /// as for any insert.
    pub fn load(&mut self, entries: Vec<(K, V)>) {
        for (k, v) in entries {
            let mut v = Some(v);
            let slot = self.entry_or_insert_with(&k, || v.take().expect("taken once"));
            if let Some(v) = v {
                *slot = v;
            }
        }
    }

    /// Drops every entry for which `keep` says no.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.young.retain(|k, v| keep(k, v));
        self.old.retain(|k, v| keep(k, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_at_cap_and_keeps_recent() {
        let mut m = BoundedMap::new(100);
        for i in 0..10_000u32 {
            *m.entry_or_insert_with(&i, || 0u32) += 1;
            // keep touching key 0 so it is never the oldest
            *m.entry_or_insert_with(&0, || 0u32) += 1;
            assert!(m.len() <= 100);
            if i > 100 {
                assert!(m.len() >= 50);
            }
        }
        assert_eq!(m.get(&0), Some(&10_001));
        assert!(m.get(&9_999).is_some());
        assert!(m.get(&5).is_none());
        assert_eq!(m.evicted() + m.len() as u64, 10_000);
    }
}
