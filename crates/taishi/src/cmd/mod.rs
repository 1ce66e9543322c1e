pub mod audit;
pub mod http;
pub mod hunt;
pub mod incidents;
pub mod intel;
pub mod lookalike;
pub mod openapi;
pub mod parse;
pub mod pii;
pub mod risk;
pub mod risk_report;
pub mod rules;
pub mod search;
pub mod serve;
pub mod state;

/// The zone of `--tz`: what `taishi serve`'s `timezone` settings accept
/// (`+08:00`, `UTC`, `local`, `Asia/Shanghai`), read by the same function so
/// a file hunted and the same lines received by a listener get one instant.
pub(crate) fn zone_arg(text: &str) -> anyhow::Result<chrono::FixedOffset> {
    taishi_event::time::parse_zone(text).map_err(|e| anyhow::anyhow!("--tz: {e}"))
}
