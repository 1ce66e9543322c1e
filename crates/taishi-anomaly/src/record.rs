//! The plain records detectors consume. The runtime fills them from ECS
//! events; each field names the ECS field it maps from.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Transport protocol (`network.transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
    Icmp,
    Other,
}

impl Transport {
    pub fn parse(s: &str) -> Transport {
        match s {
            "tcp" | "TCP" | "6" => Transport::Tcp,
            "udp" | "UDP" | "17" => Transport::Udp,
            "icmp" | "ICMP" | "1" | "icmp6" | "58" => Transport::Icmp,
            _ => Transport::Other,
        }
    }
}

/// How a connection went, reduced to what scan detection needs. From Zeek's
/// `conn_state` (`ConnState::from_zeek`) or a flow exporter's TCP flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnState {
    /// Handshake completed and data may have flowed.
    Established,
    /// The responder refused (RST to the SYN: Zeek REJ).
    Rejected,
    /// No answer to the attempt (Zeek S0).
    NoReply,
    /// Torn down by a reset before or during the handshake (RSTOS0, RSTRH, SH, SHR).
    Reset,
    /// Unknown or not applicable (UDP without state, OTH).
    Unknown,
}

impl ConnState {
    /// Maps Zeek's `conn_state` codes.
    pub fn from_zeek(s: &str) -> ConnState {
        match s {
            "S1" | "S2" | "S3" | "SF" | "RSTO" | "RSTR" => ConnState::Established,
            "REJ" => ConnState::Rejected,
            "S0" => ConnState::NoReply,
            "RSTOS0" | "RSTRH" | "SH" | "SHR" => ConnState::Reset,
            _ => ConnState::Unknown,
        }
    }

    /// A failed attempt, as Zeek's scan policy counts them.
    pub fn failed(self) -> bool {
        matches!(
            self,
            ConnState::Rejected | ConnState::NoReply | ConnState::Reset
        )
    }
}

/// One connection or flow (Zeek conn, NetFlow/IPFIX, firewall session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// Start time, Unix ms (`@timestamp`).
    pub ts_ms: i64,
    /// `source.ip`.
    pub src: IpAddr,
    /// `destination.ip`.
    pub dst: IpAddr,
    /// `destination.port`.
    pub dst_port: u16,
    /// `network.transport`.
    pub transport: Transport,
    /// Bytes sent by the originator (`source.bytes`).
    pub orig_bytes: u64,
    /// Bytes sent by the responder (`destination.bytes`).
    pub resp_bytes: u64,
    /// Duration in ms (`event.duration` / 1e6).
    pub duration_ms: i64,
    /// Zeek `conn_state` or flags (`event.outcome` where nothing better).
    pub state: ConnState,
}

/// One DNS question and its answer code (Zeek dns, Suricata dns, resolver logs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecord {
    pub ts_ms: i64,
    /// The asking host (`source.ip`).
    pub src: IpAddr,
    /// `dns.question.name`, any case, trailing dot allowed.
    pub qname: String,
    /// `dns.question.type` as a name (`A`, `TXT`, `NULL` …).
    pub qtype: String,
    /// `dns.response_code` (`NOERROR`, `NXDOMAIN` …); empty when unanswered.
    pub rcode: String,
}

impl DnsRecord {
    pub fn is_nxdomain(&self) -> bool {
        self.rcode.eq_ignore_ascii_case("NXDOMAIN") || self.rcode == "3"
    }
}

/// One HTTP request or proxy log line (Zeek http, proxy access logs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRecord {
    pub ts_ms: i64,
    /// `source.ip`.
    pub src: IpAddr,
    /// `url.domain` (the Host header or CONNECT target, port stripped by the
    /// detector).
    pub host: String,
    /// `http.request.method`.
    pub method: String,
    /// `http.request.body.bytes`.
    pub request_bytes: u64,
    /// `http.response.body.bytes`.
    pub response_bytes: u64,
    /// `user_agent.original`.
    pub user_agent: String,
}

/// Which kind of login an [`AuthRecord`] is (`event.module` / `event.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthService {
    /// Windows 4625 / 4624 / 4771.
    Windows,
    Ssh,
    Web,
    Vpn,
    Other,
}

/// Outcome of an authentication (`event.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthOutcome {
    Success,
    Failure,
    /// A connection with no authentication outcome (ssh.log `auth_success` `-`).
    Unknown,
}

/// One authentication attempt, or a session with several (Zeek ssh.log
/// `auth_attempts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthRecord {
    pub ts_ms: i64,
    /// `source.ip`; None for local logins.
    pub src: Option<IpAddr>,
    /// `user.name`; None when the log does not say (ssh.log).
    pub user: Option<String>,
    pub service: AuthService,
    pub outcome: AuthOutcome,
    /// Attempts this record stands for (≥ 1 for a real attempt). With
    /// `Success`, all but the last were failures.
    pub attempts: u32,
}

impl AuthRecord {
    /// Failed attempts carried by this record.
    pub fn failures(&self) -> u32 {
        match self.outcome {
            AuthOutcome::Failure => self.attempts.max(1),
            AuthOutcome::Success => self.attempts.saturating_sub(1),
            AuthOutcome::Unknown => self.attempts,
        }
    }
}
