//! The ECS field names decoders fill. Decoders use these constants so that a
//! typo is a compile error, not a silently empty dashboard panel.
#![allow(missing_docs)]

pub const EVENT_KIND: &str = "event.kind";
pub const EVENT_CATEGORY: &str = "event.category";
pub const EVENT_TYPE: &str = "event.type";
pub const EVENT_ACTION: &str = "event.action";
pub const EVENT_OUTCOME: &str = "event.outcome";
pub const EVENT_MODULE: &str = "event.module";
pub const EVENT_DATASET: &str = "event.dataset";
pub const EVENT_CODE: &str = "event.code";
pub const EVENT_SEVERITY: &str = "event.severity";
pub const EVENT_ORIGINAL: &str = "event.original";
pub const EVENT_DURATION: &str = "event.duration";
pub const EVENT_PROVIDER: &str = "event.provider";
/// The zone a zone-less timestamp was read in (`+08:00`), as ECS defines
/// it: present only when the source gave no zone of its own.
pub const EVENT_TIMEZONE: &str = "event.timezone";
/// `true` when the timestamp carried no zone and the configured one was
/// assumed (then `event.timezone` names it); absent otherwise. Not ECS:
/// the console shows a hint beside such times, and a search for
/// `taishi.timezone_assumed:true` finds the senders to fix.
pub const TIMEZONE_ASSUMED: &str = "taishi.timezone_assumed";
/// The organisation (tenant) an event belongs to: set at ingest from the
/// listener or token that received it, never taken from the sender.
pub const ORGANIZATION_ID: &str = "organization.id";
pub const HOST_NAME: &str = "host.name";
pub const HOST_IP: &str = "host.ip";
pub const SOURCE_IP: &str = "source.ip";
pub const SOURCE_PORT: &str = "source.port";
pub const SOURCE_BYTES: &str = "source.bytes";
pub const SOURCE_PACKETS: &str = "source.packets";
pub const DESTINATION_IP: &str = "destination.ip";
pub const DESTINATION_PORT: &str = "destination.port";
pub const DESTINATION_BYTES: &str = "destination.bytes";
pub const DESTINATION_PACKETS: &str = "destination.packets";
pub const SOURCE_NAT_IP: &str = "source.nat.ip";
pub const SOURCE_NAT_PORT: &str = "source.nat.port";
pub const DESTINATION_NAT_IP: &str = "destination.nat.ip";
pub const DESTINATION_NAT_PORT: &str = "destination.nat.port";
pub const NETWORK_TRANSPORT: &str = "network.transport";
pub const NETWORK_PROTOCOL: &str = "network.protocol";
pub const NETWORK_BYTES: &str = "network.bytes";
pub const NETWORK_PACKETS: &str = "network.packets";
pub const NETWORK_DIRECTION: &str = "network.direction";
pub const NETWORK_COMMUNITY_ID: &str = "network.community_id";
pub const NETWORK_APPLICATION: &str = "network.application";
pub const USER_NAME: &str = "user.name";
pub const USER_DOMAIN: &str = "user.domain";
pub const USER_ID: &str = "user.id";
pub const PROCESS_PID: &str = "process.pid";
pub const PROCESS_NAME: &str = "process.name";
pub const PROCESS_EXECUTABLE: &str = "process.executable";
pub const PROCESS_COMMAND_LINE: &str = "process.command_line";
pub const PROCESS_PARENT_PID: &str = "process.parent.pid";
pub const PROCESS_PARENT_EXECUTABLE: &str = "process.parent.executable";
pub const PROCESS_PARENT_COMMAND_LINE: &str = "process.parent.command_line";
pub const DNS_QUESTION_NAME: &str = "dns.question.name";
pub const DNS_QUESTION_TYPE: &str = "dns.question.type";
pub const DNS_RESPONSE_CODE: &str = "dns.response_code";
pub const URL_FULL: &str = "url.full";
pub const URL_ORIGINAL: &str = "url.original";
pub const URL_PATH: &str = "url.path";
pub const URL_QUERY: &str = "url.query";
pub const URL_DOMAIN: &str = "url.domain";
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
pub const HTTP_RESPONSE_BODY_BYTES: &str = "http.response.body.bytes";
pub const HTTP_VERSION: &str = "http.version";
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
pub const HTTP_REQUEST_REFERRER: &str = "http.request.referrer";
pub const TLS_VERSION: &str = "tls.version";
pub const TLS_SERVER_NAME: &str = "tls.client.server_name";
pub const TLS_JA3: &str = "tls.client.ja3";
pub const TLS_JA3S: &str = "tls.server.ja3s";
pub const TLS_SERVER_SUBJECT: &str = "tls.server.x509.subject.distinguished_name";
pub const TLS_SERVER_ISSUER: &str = "tls.server.x509.issuer.distinguished_name";
pub const FILE_NAME: &str = "file.name";
pub const FILE_PATH: &str = "file.path";
pub const FILE_SIZE: &str = "file.size";
pub const FILE_MIME_TYPE: &str = "file.mime_type";
pub const FILE_HASH_MD5: &str = "file.hash.md5";
pub const FILE_HASH_SHA1: &str = "file.hash.sha1";
pub const FILE_HASH_SHA256: &str = "file.hash.sha256";
pub const OBSERVER_NAME: &str = "observer.name";
pub const OBSERVER_VENDOR: &str = "observer.vendor";
pub const OBSERVER_PRODUCT: &str = "observer.product";
pub const OBSERVER_VERSION: &str = "observer.version";
pub const OBSERVER_TYPE: &str = "observer.type";
pub const OBSERVER_IP: &str = "observer.ip";
pub const OBSERVER_INGRESS_INTERFACE_NAME: &str = "observer.ingress.interface.name";
pub const OBSERVER_EGRESS_INTERFACE_NAME: &str = "observer.egress.interface.name";
pub const OBSERVER_INGRESS_ZONE: &str = "observer.ingress.zone";
pub const OBSERVER_EGRESS_ZONE: &str = "observer.egress.zone";
pub const RULE_ID: &str = "rule.id";
pub const RULE_NAME: &str = "rule.name";
pub const RULE_CATEGORY: &str = "rule.category";
pub const LOG_LEVEL: &str = "log.level";
pub const LOG_SYSLOG_FACILITY_CODE: &str = "log.syslog.facility.code";
pub const LOG_SYSLOG_SEVERITY_CODE: &str = "log.syslog.severity.code";
pub const LOG_SYSLOG_APPNAME: &str = "log.syslog.appname";
pub const LOG_SYSLOG_PROCID: &str = "log.syslog.procid";
pub const LOG_SYSLOG_MSGID: &str = "log.syslog.msgid";
pub const MESSAGE: &str = "message";
