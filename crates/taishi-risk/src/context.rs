//! From the register's asset, a scanner's finding and the feeds to the
//! inputs of the priority (`taishi_vuln::priority`) and of the score.

use taishi_asset::{Asset, Finding, Importance};
use taishi_vuln::epss::EpssScore;
use taishi_vuln::kev::Ransomware;
use taishi_vuln::priority::{self, AssetContext, Exposure, Policy, Priority, VulnContext};

/// What the feeds say of one CVE.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeedView {
    /// In KEV, with its ransomware use.
    pub kev: Option<Ransomware>,
    pub epss: Option<EpssScore>,
}

/// The ports of an asset reachable from outside (`tcp/443`), sorted.
pub fn exposed_ports(a: &Asset) -> Vec<String> {
    let mut v: Vec<String> = a
        .exposure()
        .map(|s| format!("{}/{}", s.transport.as_str(), s.port))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// What the priority needs of the asset. Exposure: *open* with a port
/// reachable from outside, else *controlled* (an internal network with its
/// controls; the register does not know of isolated assets).
pub fn asset_context(a: &Asset) -> AssetContext {
    use taishi_vuln::priority::{DataLevel as D, Importance as I};
    let importance = match a.importance.as_ref().map(|f| f.value) {
        Some(Importance::Low) => I::Low,
        Some(Importance::High) => I::High,
        Some(Importance::Critical) => I::Critical,
        Some(Importance::Medium) | None => I::Medium,
    };
    AssetContext {
        importance,
        cii: a.cii.as_ref().is_some_and(|f| f.value),
        dengbao_level: a.dengbao.as_ref().map(|f| f.value.get()),
        data_level: a.data_level.as_ref().map(|f| match f.value {
            taishi_asset::DataLevel::General => D::General,
            taishi_asset::DataLevel::Important => D::Important,
            taishi_asset::DataLevel::Core => D::Core,
        }),
        exposure: if a.exposure().next().is_some() {
            Exposure::Open
        } else {
            Exposure::Controlled
        },
    }
}

/// The priority of a scanner's finding on an asset: the CVSS vector of the
/// first source that has a valid one, a public exploit when any source
/// says so, KEV and EPSS from the feeds.
pub fn assess_finding(
    f: &Finding,
    asset: &AssetContext,
    feeds: FeedView,
    policy: &Policy,
) -> Priority {
    let cvss = f
        .sources
        .iter()
        .filter_map(|s| s.cvss_vector.as_deref())
        .find_map(|v| taishi_vuln::cvss::score(v).ok());
    let v = VulnContext {
        cvss,
        kev: feeds.kev,
        epss: feeds.epss,
        exploit_public: f.sources.iter().any(|s| s.exploit_available),
    };
    priority::assess(&v, asset, policy)
}

/// Whether an asset counts as critical for warnings: importance 关键 or
/// a CII asset.
pub fn is_critical(a: &Asset) -> bool {
    a.importance
        .as_ref()
        .is_some_and(|f| f.value == Importance::Critical)
        || a.cii.as_ref().is_some_and(|f| f.value)
}
