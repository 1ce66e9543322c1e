//! Counting people, not rows: distinct persons keyed by a keyed hash of their
//! normalised ID number (the number itself is never kept), exact up to a cap,
//! then a HyperLogLog sketch.
//!
//! The sketch is written here rather than taken from a crate: its input is
//! already a uniform keyed hash (so no hasher is needed), it must merge across
//! locations and incidents, and the estimator is Ertl's improved raw estimator
//! ("New cardinality estimation algorithms for HyperLogLog sketches", 2017),
//! which needs no empirical bias tables and is unbiased from 0 to 2^64.

use crate::kind::Kind;
use crate::mask::MaskKey;
use crate::validate::normalise_resident_id;
use std::collections::HashSet;

/// Registers = 2^14: 16 KiB per sketch, relative standard error 1.04/√16384 = 0.81 %.
pub const HLL_PRECISION: u8 = 14;

/// A person's key: 128 bits of HMAC-SHA256 over the normalised identifier.
/// It can be compared and counted, and without the key it cannot be turned
/// back into the number (the ID space is small enough to enumerate, which is
/// why the hash is keyed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonKey(pub [u8; 16]);

impl PersonKey {
    /// The key of a resident ID number in either form (15 or 18 digits, x or X).
    pub fn resident_id(key: &MaskKey, raw: &[u8]) -> Option<PersonKey> {
        let n = normalise_resident_id(raw)?;
        Some(Self::of(key, Kind::CnResidentId, &n))
    }

    /// The key of any normalised identifier (`Finding::normalised`) of a kind.
    pub fn of(key: &MaskKey, kind: Kind, normalised: &[u8]) -> PersonKey {
        let h = key.mac(&[b"person", kind.code().as_bytes(), normalised]);
        let mut k = [0u8; 16];
        k.copy_from_slice(&h[..16]);
        PersonKey(k)
    }

    fn hash64(&self) -> u64 {
        u64::from_le_bytes(self.0[..8].try_into().unwrap_or([0; 8]))
    }
}

/// Sketches of different precisions cannot be merged.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("cannot merge HyperLogLog sketches of precision {0} and {1}")]
pub struct PrecisionMismatch(pub u8, pub u8);

/// A HyperLogLog sketch over 64-bit hashes.
#[derive(Clone, Debug, PartialEq)]
pub struct Hll {
    p: u8,
    regs: Vec<u8>,
}

impl Hll {
    /// A sketch with 2^p registers (p clamped to 4..=18).
    pub fn new(p: u8) -> Hll {
        let p = p.clamp(4, 18);
        Hll {
            p,
            regs: vec![0; 1 << p],
        }
    }

    /// Adds a uniformly distributed 64-bit hash.
    pub fn insert(&mut self, h: u64) {
        let q = 64 - self.p as u32;
        let idx = (h >> q) as usize;
        // Rank of the first 1-bit in the remaining q bits, q + 1 when they are all zero.
        let rest = h << self.p;
        let rank = if rest == 0 {
            q + 1
        } else {
            rest.leading_zeros() + 1
        }
        .min(q + 1) as u8;
        if self.regs[idx] < rank {
            self.regs[idx] = rank;
        }
    }

    /// Takes in every element of `other`.
    pub fn merge(&mut self, other: &Hll) -> Result<(), PrecisionMismatch> {
        if other.p != self.p {
            return Err(PrecisionMismatch(self.p, other.p));
        }
        for (a, b) in self.regs.iter_mut().zip(&other.regs) {
            *a = (*a).max(*b);
        }
        Ok(())
    }

    /// The relative standard error of `estimate`: 1.04/√m.
    pub fn rel_std_error(&self) -> f64 {
        1.04 / ((self.regs.len() as f64).sqrt())
    }

    /// The estimated number of distinct hashes inserted (Ertl's improved raw estimator).
    pub fn estimate(&self) -> f64 {
        let m = self.regs.len() as f64;
        let q = 64 - self.p as usize;
        let mut c = vec![0u32; q + 2];
        for &r in &self.regs {
            c[r as usize] += 1;
        }
        let mut z = m * tau(1.0 - c[q + 1] as f64 / m);
        for k in (1..=q).rev() {
            z = 0.5 * (z + c[k] as f64);
        }
        z += m * sigma(c[0] as f64 / m);
        let alpha_inf = 1.0 / (2.0 * std::f64::consts::LN_2);
        alpha_inf * m * m / z
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let z_old = z;
        z += x * y;
        y += y;
        if z_old == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let z_old = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z_old == z {
            return z / 3.0;
        }
    }
}

/// A count of people and how far to trust it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub count: u64,
    /// True while the counter still holds every key (the count is exact).
    pub exact: bool,
    /// Relative standard error (0 when exact; 0.0081 for the sketch).
    pub rel_std_error: f64,
}

/// Distinct persons: exact while at most `cap` keys were seen, a HyperLogLog
/// sketch after that. The sketch is fed from the start, so the switch loses
/// nothing, and counters of locations merge into the count of an incident.
#[derive(Clone, Debug)]
pub struct PersonCounter {
    cap: usize,
    exact: Option<HashSet<PersonKey>>,
    hll: Hll,
}

impl Default for PersonCounter {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl PersonCounter {
    /// A counter exact up to `cap` persons (16 bytes each, plus the set's overhead).
    pub fn new(cap: usize) -> PersonCounter {
        PersonCounter {
            cap,
            exact: Some(HashSet::new()),
            hll: Hll::new(HLL_PRECISION),
        }
    }

    pub fn insert(&mut self, k: PersonKey) {
        self.hll.insert(k.hash64());
        if let Some(set) = &mut self.exact {
            set.insert(k);
            if set.len() > self.cap {
                self.exact = None;
            }
        }
    }

    /// Takes in the persons of `other` (the same person in both counts once).
    pub fn merge(&mut self, other: &PersonCounter) {
        // Both sketches use HLL_PRECISION; a mismatch cannot arise.
        let _ = self.hll.merge(&other.hll);
        match (&mut self.exact, &other.exact) {
            (Some(a), Some(b)) => {
                a.extend(b.iter().copied());
                if a.len() > self.cap {
                    self.exact = None;
                }
            }
            _ => self.exact = None,
        }
    }

    /// What can be written to disk and read back with [`PersonCounter::restore`]:
    /// the person keys while the count is exact and at most `max_keys` (keyed
    /// hashes, never numbers), else the sketch's registers (the count then
    /// stays an estimate after the restore).
    pub fn snapshot(&self, max_keys: usize) -> CounterSnapshot {
        match &self.exact {
            Some(set) if set.len() <= max_keys => {
                let mut keys: Vec<String> = set.iter().map(|k| hex(&k.0)).collect();
                keys.sort();
                CounterSnapshot {
                    keys: Some(keys),
                    registers: None,
                }
            }
            _ => CounterSnapshot {
                keys: None,
                registers: Some(hex(&self.hll.regs)),
            },
        }
    }

    /// A counter from its snapshot; `None` when the snapshot is damaged (bad
    /// hex, a sketch of another size).
    pub fn restore(cap: usize, s: &CounterSnapshot) -> Option<PersonCounter> {
        let mut c = PersonCounter::new(cap);
        if let Some(keys) = &s.keys {
            for k in keys {
                c.insert(PersonKey(unhex(k)?.try_into().ok()?));
            }
        }
        if let Some(regs) = &s.registers {
            let regs = unhex(regs)?;
            if regs.len() != c.hll.regs.len() {
                return None;
            }
            c.hll.regs = regs;
            c.exact = None;
        }
        Some(c)
    }

    pub fn estimate(&self) -> Estimate {
        match &self.exact {
            Some(set) => Estimate {
                count: set.len() as u64,
                exact: true,
                rel_std_error: 0.0,
            },
            None => Estimate {
                count: self.hll.estimate().round() as u64,
                exact: false,
                rel_std_error: self.hll.rel_std_error(),
            },
        }
    }
}

/// A [`PersonCounter`] as it is kept on disk (hex strings, so it is plain JSON).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CounterSnapshot {
    /// The person keys (32 hex digits each) of an exact count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// The sketch's registers (2 hex digits each) of an estimated count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registers: Option<String>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 1 << 20 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trip() {
        let key = MaskKey::new(&[7u8; 32]).unwrap();
        let mut c = PersonCounter::new(1000);
        for i in 0..500u32 {
            c.insert(PersonKey::of(&key, Kind::CnResidentId, &i.to_le_bytes()));
        }
        let exact = PersonCounter::restore(1000, &c.snapshot(1000)).unwrap();
        assert_eq!(exact.estimate(), c.estimate());
        let sketch = PersonCounter::restore(1000, &c.snapshot(10)).unwrap();
        let e = sketch.estimate();
        assert!(!e.exact && (e.count as i64 - 500).abs() < 20, "{e:?}");
        assert!(PersonCounter::restore(
            10,
            &CounterSnapshot {
                keys: Some(vec!["zz".into()]),
                registers: None
            }
        )
        .is_none());
    }

    #[test]
    fn hll_small_and_large() {
        let mut h = Hll::new(HLL_PRECISION);
        assert_eq!(h.estimate().round(), 0.0);
        // splitmix64 gives uniform hashes
        let mut x = 0u64;
        let mut next = || {
            x = x.wrapping_add(0x9E3779B97F4A7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
            z ^ (z >> 31)
        };
        for n in 1..=200_000u64 {
            h.insert(next());
            if [10, 1000, 50_000, 200_000].contains(&n) {
                let e = h.estimate();
                let err = (e - n as f64).abs() / n as f64;
                assert!(err < 4.0 * h.rel_std_error(), "n={n} e={e}");
            }
        }
    }
}
