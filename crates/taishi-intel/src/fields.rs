//! Which normalised event fields each indicator type is looked up in.
//!
//! Only these fields are read per event, so matching costs a few `get`s and
//! hash probes whatever the number of indicators. `host.ip` and
//! `observer.ip` are the sensor's own addresses and deliberately absent.

use crate::model::IndicatorType;

pub const IP_FIELDS: &[&str] = &[
    "source.ip",
    "destination.ip",
    "client.ip",
    "server.ip",
    "dns.resolved_ip",
];
pub const DOMAIN_FIELDS: &[&str] = &[
    "dns.question.name",
    "url.domain",
    "destination.domain",
    "server.domain",
    "tls.client.server_name",
];
pub const URL_FIELDS: &[&str] = &["url.full", "url.original"];
pub const MD5_FIELDS: &[&str] = &["file.hash.md5", "process.hash.md5", "dll.hash.md5"];
pub const SHA1_FIELDS: &[&str] = &[
    "file.hash.sha1",
    "process.hash.sha1",
    "dll.hash.sha1",
    "tls.server.hash.sha1",
];
pub const SHA256_FIELDS: &[&str] = &[
    "file.hash.sha256",
    "process.hash.sha256",
    "dll.hash.sha256",
    "tls.server.hash.sha256",
];
pub const EMAIL_FIELDS: &[&str] = &[
    "email.from.address",
    "email.sender.address",
    "email.to.address",
    "email.reply_to.address",
    "user.email",
    "source.user.email",
];
pub const JA3_FIELDS: &[&str] = &["tls.client.ja3"];
pub const JA3S_FIELDS: &[&str] = &["tls.server.ja3s"];
pub const JA4_FIELDS: &[&str] = &["tls.client.ja4"];

/// The fields an indicator type is matched on (for `IpPort`, the address
/// fields; the port is the same side's `.port`).
pub fn fields_for(kind: IndicatorType) -> &'static [&'static str] {
    match kind {
        IndicatorType::Ip | IndicatorType::Cidr => IP_FIELDS,
        IndicatorType::Domain => DOMAIN_FIELDS,
        IndicatorType::Url => URL_FIELDS,
        IndicatorType::Md5 => MD5_FIELDS,
        IndicatorType::Sha1 => SHA1_FIELDS,
        IndicatorType::Sha256 => SHA256_FIELDS,
        IndicatorType::Email => EMAIL_FIELDS,
        IndicatorType::Ja3 => JA3_FIELDS,
        IndicatorType::Ja3s => JA3S_FIELDS,
        IndicatorType::Ja4 => JA4_FIELDS,
        IndicatorType::IpPort => &["destination.ip", "source.ip"],
        IndicatorType::Pattern => &[],
    }
}

/// Indexable type of a STIX object path compared with `=`.
pub fn path_type(path: &str) -> Option<IndicatorType> {
    let (obj, prop) = path.split_once(':')?;
    let prop_l = prop.to_ascii_lowercase();
    Some(match (obj, prop_l.as_str()) {
        ("ipv4-addr" | "ipv6-addr", "value") => IndicatorType::Ip,
        ("domain-name", "value") => IndicatorType::Domain,
        ("url", "value") => IndicatorType::Url,
        ("email-addr", "value") => IndicatorType::Email,
        ("file" | "artifact", h) if h.starts_with("hashes.") => hash_type(&h[7..])?,
        _ => return None,
    })
}

fn hash_type(alg: &str) -> Option<IndicatorType> {
    match alg.replace('-', "").as_str() {
        "md5" => Some(IndicatorType::Md5),
        "sha1" => Some(IndicatorType::Sha1),
        "sha256" => Some(IndicatorType::Sha256),
        _ => None,
    }
}

/// The event fields a STIX object path is evaluated on, when Taishi
/// evaluates it at all.
pub fn path_fields(path: &str) -> Option<&'static [&'static str]> {
    if let Some(t) = path_type(path) {
        return Some(fields_for(t));
    }
    let (obj, prop) = path.split_once(':')?;
    let prop_l = prop.to_ascii_lowercase();
    Some(match (obj, prop_l.as_str()) {
        ("file", "name") => &["file.name"],
        ("file", "size") => &["file.size"],
        ("file", "mime_type") => &["file.mime_type"],
        ("network-traffic", "dst_ref.value") => &["destination.ip"],
        ("network-traffic", "src_ref.value") => &["source.ip"],
        ("network-traffic", "dst_port") => &["destination.port"],
        ("network-traffic", "src_port") => &["source.port"],
        ("network-traffic", p) if p.starts_with("protocols[") => {
            &["network.transport", "network.protocol"]
        }
        ("email-message", "from_ref.value") => &["email.from.address"],
        ("email-message", "sender_ref.value") => &["email.sender.address"],
        ("email-message", p) if p.starts_with("to_refs[") && p.ends_with(".value") => {
            &["email.to.address"]
        }
        ("email-message", p) if p.starts_with("cc_refs[") && p.ends_with(".value") => {
            &["email.cc.address"]
        }
        ("email-message", "subject") => &["email.subject"],
        ("email-message", p) if p.starts_with("body_multipart[") && p.ends_with(".name") => {
            &["email.attachments.file.name"]
        }
        ("x509-certificate", "hashes.sha-1" | "hashes.sha1") => &["tls.server.hash.sha1"],
        ("x509-certificate", "hashes.sha-256" | "hashes.sha256") => &["tls.server.hash.sha256"],
        ("x509-certificate", "serial_number") => &["tls.server.x509.serial_number"],
        ("x509-certificate", "issuer") => &["tls.server.x509.issuer.distinguished_name"],
        ("x509-certificate", "subject") => &["tls.server.x509.subject.distinguished_name"],
        ("process", "name") => &["process.name"],
        ("process", "command_line") => &["process.command_line"],
        ("process", "pid") => &["process.pid"],
        ("user-account", "user_id" | "account_login") => &["user.name"],
        ("windows-registry-key", "key") => &["registry.path", "registry.key"],
        ("mutex", "name") => &["mutex.name"],
        ("autonomous-system", "number") => &["source.as.number", "destination.as.number"],
        _ => return None,
    })
}
