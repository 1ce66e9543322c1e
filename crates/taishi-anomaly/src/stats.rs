//! Small robust statistics used by the scores.

/// Value at quantile `q` of a sorted slice, picking the element at
/// round(q·(n−1)) as RITA does (no interpolation, so the result is a value
/// that occurred).
pub fn quantile_sorted<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let i = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(i.min(sorted.len() - 1)).copied()
}

/// Bowley's quartile skew, (Q3 + Q1 − 2·Q2)/(Q3 − Q1), of a sorted slice.
/// 0 when it is undefined or unreliable (Q1 = Q3, or the median equals a
/// quartile), as in RITA.
pub fn bowley_skew(sorted: &[i64]) -> f64 {
    let (Some(q1), Some(q2), Some(q3)) = (
        quantile_sorted(sorted, 0.25),
        quantile_sorted(sorted, 0.5),
        quantile_sorted(sorted, 0.75),
    ) else {
        return 0.0;
    };
    let den = q3 - q1;
    if den == 0 || q2 == q1 || q2 == q3 {
        return 0.0;
    }
    (q1 + q3 - 2 * q2) as f64 / den as f64
}

/// Median of a sorted slice (mean of the middle two for even lengths).
pub fn median_sorted(sorted: &[i64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    }
}

/// Median absolute deviation around the median of a sorted slice.
pub fn mad_sorted(sorted: &[i64]) -> f64 {
    let m = median_sorted(sorted);
    let mut dev: Vec<f64> = sorted.iter().map(|v| (*v as f64 - m).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let n = dev.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        dev[n / 2]
    } else {
        (dev[n / 2 - 1] + dev[n / 2]) / 2.0
    }
}

/// Most frequent value of a sorted slice (the smallest on ties).
pub fn mode_sorted(sorted: &[i64]) -> Option<i64> {
    let mut best = None;
    let mut best_n = 0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        if j - i > best_n {
            best_n = j - i;
            best = Some(sorted[i]);
        }
        i = j;
    }
    best
}

/// Shannon entropy in bits per byte of a byte string.
pub fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in s {
        counts[*b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// ROC AUC from scores of positives and negatives (rank-sum, ties averaged).
pub fn roc_auc(pos: &[f64], neg: &[f64]) -> f64 {
    if pos.is_empty() || neg.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f64, bool)> = pos
        .iter()
        .map(|v| (*v, true))
        .chain(neg.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_pos = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let avg = (i + j + 1) as f64 / 2.0;
        rank_pos += avg * all[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let np = pos.len() as f64;
    (rank_pos - np * (np + 1.0) / 2.0) / (np * neg.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_and_mad() {
        let v = [10, 10, 10, 10, 10];
        assert_eq!(bowley_skew(&v), 0.0);
        assert_eq!(mad_sorted(&v), 0.0);
        let v = [1, 2, 3, 4, 100];
        assert_eq!(mad_sorted(&v), 1.0);
        let v = [1, 2, 3, 10, 20, 30, 100, 200, 300];
        assert!(bowley_skew(&v) > 0.0);
        assert_eq!(mode_sorted(&[1, 2, 2, 3]), Some(2));
    }

    #[test]
    fn entropy_and_auc() {
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert_eq!(roc_auc(&[2.0, 3.0], &[0.0, 1.0]), 1.0);
        assert_eq!(roc_auc(&[1.0], &[1.0]), 0.5);
    }
}
