//! A hash map with a hard cap on its entries.

use std::hash::Hash;

use foldhash::HashMap;

/// A map that never holds more than `cap` entries. When a new key would go
/// past the cap, the least recently touched eighth of the entries is evicted
/// in one pass (a selection over the touch ticks, not a sort): amortised O(1)
/// per insert, and no per-entry linked list to keep up on the hot path.
/// Evicting a batch rather than one entry keeps the selection cost rare.
#[derive(Debug, Clone)]
pub struct BoundedMap<K, V> {
    map: HashMap<K, (V, u64)>,
    cap: usize,
    tick: u64,
    evicted: u64,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// A map holding at most `cap` entries (at least 1).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        BoundedMap {
            map: HashMap::with_capacity_and_hasher(cap.min(1 << 16), Default::default()),
            cap,
            tick: 0,
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Entries evicted so far (a health figure for the operator).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k).map(|(v, _)| v)
    }

    /// The entry for `k`, created with `make` when absent, marked as used.
    /// A hit neither clones the key nor allocates.
    pub fn entry_or_insert_with(&mut self, k: &K, make: impl FnOnce() -> V) -> &mut V {
        self.tick += 1;
        let tick = self.tick;
        if self.map.contains_key(k) {
            // Two lookups on a hit: returning the first borrow conditionally
            // is what the borrow checker does not yet accept.
            let slot = self.map.get_mut(k).expect("checked above");
            slot.1 = tick;
            return &mut slot.0;
        }
        if self.map.len() >= self.cap {
            self.evict();
        }
        &mut self
            .map
            .entry(k.clone())
            .or_insert_with(|| (make(), tick))
            .0
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.map.remove(k).map(|(v, _)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter().map(|(k, (v, _))| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.map.iter_mut().map(|(k, (v, _))| (k, v))
    }

    /// Drops every entry for which `keep` says no.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.map.retain(|k, (v, _)| keep(k, v));
    }

    fn evict(&mut self) {
        let n = (self.cap / 8).max(1);
        let mut ticks: Vec<u64> = self.map.values().map(|(_, t)| *t).collect();
        let (_, cut, _) = ticks.select_nth_unstable(n - 1);
        let cut = *cut;
        let before = self.map.len();
        // Ticks are unique, so exactly n entries have a tick <= cut.
        self.map.retain(|_, (_, t)| *t > cut);
        self.evicted += (before - self.map.len()) as u64;
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
        }
        assert!(m.get(&0).is_some());
        assert!(m.get(&9_999).is_some());
        assert!(m.get(&5).is_none());
        assert!(m.evicted() > 9_000);
    }
}
