//! How much one feed or import may take: bytes downloaded, bytes after
//! decompression, indicators. A feed server or an uploaded file decides how
//! much it sends and how well it compresses (a 6 MB gzip can inflate to
//! tens of gigabytes), so every body is read and inflated through a bound
//! and abandoned as soon as the bound is passed.

use std::io::Read;

/// Limits of one feed pull or import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Where a pull may connect (`[egress]`). A `'static` reference keeps
    /// `Limits` `Copy`: the service builds its policy once at start
    /// (`Box::leak`); the default refuses private targets.
    pub egress: &'static taishi_egress::EgressPolicy,
    /// Most bytes of one download, and of one file or download after
    /// decompression.
    pub max_bytes: u64,
    /// Most indicators one feed or import may bring.
    pub max_indicators: usize,
}

/// `[intel] max_feed_mib`'s default: the largest public lists (URLhaus
/// full, MISP feeds) are well under it.
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;
/// The default egress policy: loopback, private, link-local and the other
/// special ranges refused.
pub static DEFAULT_EGRESS: taishi_egress::EgressPolicy = taishi_egress::EgressPolicy::DENY_PRIVATE;
/// `[intel] max_indicators_per_feed`'s default.
pub const DEFAULT_MAX_INDICATORS: usize = 2_000_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            egress: &DEFAULT_EGRESS,
            max_bytes: DEFAULT_MAX_BYTES,
            max_indicators: DEFAULT_MAX_INDICATORS,
        }
    }
}

/// Which limit was passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// A download larger than `max_bytes` (after any Content-Encoding).
    Download,
    /// A gzip file that inflates past `max_bytes`.
    Inflated,
    /// More indicators than `max_indicators`.
    Indicators,
}

/// A feed or import stopped at a limit; names the input, the limit and the
/// setting that raises it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct LimitExceeded {
    /// The file, URL or feed.
    pub entry: String,
    pub kind: LimitKind,
    pub limit: u64,
}

impl LimitExceeded {
    fn message(&self) -> String {
        match self.kind {
            LimitKind::Download => format!(
                "{}: larger than {} MiB, the limit for one feed or import; stopped reading (raise `[intel] max_feed_mib` if the feed is genuine)",
                self.entry,
                self.limit >> 20
            ),
            LimitKind::Inflated => format!(
                "{}: decompresses to more than {} MiB, the limit for one feed or import; stopped inflating (a decompression bomb, or raise `[intel] max_feed_mib` if the feed is genuine)",
                self.entry,
                self.limit >> 20
            ),
            LimitKind::Indicators => format!(
                "{}: more than {} indicators, the limit for one feed or import; nothing stored (raise `[intel] max_indicators_per_feed` if the feed is genuine)",
                self.entry, self.limit
            ),
        }
    }
}

pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

/// Inflates (multi-member) gzip `data`, stopping once the output passes
/// `max`: memory never holds more than `max + 1` bytes of it.
pub fn gunzip_bounded(entry: &str, data: &[u8], max: u64) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .take(max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| GunzipError::Corrupt(format!("{entry}: gzip: {e}")))?;
    if out.len() as u64 > max {
        return Err(GunzipError::Limit(LimitExceeded {
            entry: entry.to_string(),
            kind: LimitKind::Inflated,
            limit: max,
        }));
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum GunzipError {
    #[error(transparent)]
    Limit(LimitExceeded),
    #[error("{0}")]
    Corrupt(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // 64 MiB of zeros in about 64 KiB of gzip.
        let bomb = gz(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 1 << 20);
        let e = gunzip_bounded("bomb.gz", &bomb, 1 << 20).unwrap_err();
        let GunzipError::Limit(l) = e else {
            panic!("{e}")
        };
        assert_eq!(l.kind, LimitKind::Inflated);
        let msg = l.to_string();
        assert!(
            msg.contains("bomb.gz") && msg.contains("1 MiB") && msg.contains("max_feed_mib"),
            "{msg}"
        );
    }

    #[test]
    fn exactly_the_limit_is_allowed() {
        let data = vec![7u8; 4096];
        assert_eq!(gunzip_bounded("x", &gz(&data), 4096).unwrap(), data);
        assert!(gunzip_bounded("x", &gz(&data), 4095).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_returns_more_than_the_limit(len in 0usize..20_000, max in 0u64..30_000) {
            let data = vec![b'a'; len];
            match gunzip_bounded("p", &gz(&data), max) {
                Ok(out) => { proptest::prop_assert!(out.len() as u64 <= max); proptest::prop_assert_eq!(out, data); }
                Err(GunzipError::Limit(_)) => proptest::prop_assert!(len as u64 > max),
                Err(e) => proptest::prop_assert!(false, "{}", e),
            }
        }
    }
}
