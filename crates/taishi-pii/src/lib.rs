//! Taishi's personal-information core: find Chinese personal information and
//! secrets in bytes, validated rather than pattern-matched; mask them; count the
//! people affected without keeping their numbers; grade what was found.
//!
//! Everything here is pure (no I/O): the file and database scanners, `taishi
//! serve` and the CLI wire it in. See the crate's README for the method.
//!
//! ```
//! use taishi_pii::{Kind, Scanner, ScanConfig};
//! let scanner = Scanner::new(ScanConfig::default()).unwrap();
//! let found = scanner.scan("身份证号：11010119900307803X，手机 13800138000".as_bytes());
//! assert_eq!(found.findings[0].kind, Kind::CnResidentId);
//! assert_eq!(found.findings[1].kind, Kind::CnMobile);
//! ```

mod count;
mod data;
mod grade;
mod kind;
mod mask;
mod scan;
mod summary;
mod validate;

pub use count::{CounterSnapshot, Estimate, Hll, PersonCounter, PersonKey, HLL_PRECISION};
pub use data::DataError;
pub use grade::{Category, Grade, Grading, IncidentGrade, Level};
pub use kind::{Kind, KindSet, Lang, Reason, Reasons};
pub use mask::{KeyError, MaskError, MaskKey, MaskMode, MaskPolicy, Masker};
pub use scan::{Finding, ScanConfig, ScanOutput, Scanner};
pub use summary::{KindSummary, LocationSummary};
pub use validate::{
    gb11643_check, gb32100_check, luhn_valid, normalise_resident_id, today_yyyymmdd,
};
