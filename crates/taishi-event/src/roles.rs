//! Field roles: which field of an event names its host, its source and
//! destination address and its user. Sources name these differently
//! (`Computer`, `id.orig_h`, `SourceAddress` …); ECS names come first, then
//! the sources' own, so every stage (alerts, hunts, correlation, the
//! overview) picks the same field.

use crate::{ecs, Event};

/// The host an event is about.
pub const HOST: &[&str] = &[
    ecs::HOST_NAME,
    "Computer",
    "observer.name",
    "host.hostname",
    "hostname",
    "host",
    "host.ip",
];

/// The address that initiated.
pub const SOURCE_IP: &[&str] = &[
    ecs::SOURCE_IP,
    "client.ip",
    "IpAddress",
    "SourceIp",
    "SourceAddress",
    "src_ip",
    "id.orig_h",
];

/// The address that was reached.
pub const DESTINATION_IP: &[&str] = &[
    ecs::DESTINATION_IP,
    "server.ip",
    "DestinationIp",
    "DestAddress",
    "dest_ip",
    "id.resp_h",
];

/// The account acting or acted on.
pub const USER: &[&str] = &["user.name", "TargetUserName", "SubjectUserName", "User"];

/// The first field of `names` with a value that says something (not empty,
/// not Windows' `-` placeholder).
pub fn first_text(ev: &Event, names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| ev.get(n))
        .filter_map(|v| v.to_text())
        .map(|s| s.into_owned())
        .find(|s| !s.is_empty() && s != "-")
}

/// The organisation an event belongs to (stamped at ingest).
pub fn org(ev: &Event) -> Option<String> {
    first_text(ev, &[ecs::ORGANIZATION_ID])
}

pub fn host(ev: &Event) -> Option<String> {
    first_text(ev, HOST)
}

pub fn source_ip(ev: &Event) -> Option<String> {
    first_text(ev, SOURCE_IP)
}

pub fn destination_ip(ev: &Event) -> Option<String> {
    first_text(ev, DESTINATION_IP)
}

pub fn user(ev: &Event) -> Option<String> {
    first_text(ev, USER)
}

/// The value of a role among `(name, value)` pairs (a correlation group).
pub fn in_pairs<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    names: &[&str],
) -> Option<String> {
    names.iter().find_map(|n| {
        pairs
            .clone()
            .find(|(k, v)| k == n && !v.is_empty() && *v != "-")
            .map(|(_, v)| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_first_then_source_names_and_placeholders_skipped() {
        let mut e = Event::new();
        e.push("IpAddress", "-");
        e.push("src_ip", "10.0.0.9");
        e.push("Computer", "WS01");
        assert_eq!(source_ip(&e).as_deref(), Some("10.0.0.9"));
        assert_eq!(host(&e).as_deref(), Some("WS01"));
        e.push("host.name", "ws01.corp");
        assert_eq!(host(&e).as_deref(), Some("ws01.corp"));
        assert_eq!(destination_ip(&e), None);
    }
}
