//! NetFlow v5, NetFlow v9 and IPFIX (v10) decoded into one event per flow
//! record, from pcap/pcapng captures, from raw UDP payloads saved to a file,
//! or datagram by datagram from a live collector ([`NetflowDecoder::decode_datagram`]).
//!
//! ## Event layout
//!
//! - every decoded information element under `netflow.<snake_case IANA
//!   name>` (`netflow.source_ipv4_address`, `netflow.octet_delta_count`,
//!   `netflow.tcp_control_bits`, `netflow.vrf_name` …); unsigned numbers
//!   as numbers, addresses as text, absolute times as RFC 3339 UTC,
//!   octet arrays (MPLS label sections, padding, route distinguishers) as
//!   lower-case hex. RFC 5103 reverse elements are `netflow.reverse_<name>`,
//!   other enterprise elements `netflow.enterprise_<pen>_<id>` (hex),
//!   unknown IANA ids `netflow.ie_<id>` (hex), v9 option scopes
//!   `netflow.scope_system|interface|line_card|netflow_cache|template`. An
//!   element repeated in one template gets `_2`, `_3` … suffixes.
//! - `netflow.type`: `netflow_flow`, or `netflow_options` for options data
//!   records (sampling, VRF tables …), which are events too *and* update the
//!   exporter's metadata: later flows of that exporter gain
//!   `netflow.exporter.sampling_interval`, `netflow.ingress_vrf_name` /
//!   `netflow.egress_vrf_name`, and IPFIX `*SysUpTime` fields are placed in
//!   time with `systemInitTimeMilliseconds`.
//! - ECS: `@timestamp` (flow end, else export time; UTC), `event.start`,
//!   `event.end`, `event.duration` (ns), `source.ip/port`,
//!   `destination.ip/port`, `network.transport` (protocol name),
//!   `network.iana_number`, `network.type`, `network.bytes`,
//!   `network.packets`, `network.direction` (flowDirection),
//!   `observer.ip` (exporter), `netflow.exporter.{address, version,
//!   source_id | observation_domain_id, sequence_number, timestamp,
//!   uptime_millis}`, `event.kind`=event, `event.category`=[network],
//!   `event.type`=[connection] (options: [info]), `event.action`,
//!   `event.module`=netflow, `event.dataset`=netflow.log.
//!
//! Templates are kept per exporter address and port, version and source id
//! / observation domain; a data set whose template has not been seen is
//! rejected with that reason and counted in [`Stats::unknown_template_sets`].

mod flow;
mod ie;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::{LegacyPcapSlice, Linktype, PcapBlockOwned, PcapNGSlice};
use taishi_event::{Confidence, DecodeContext, Decoder, Format, Framing, Location, Reject, Sink};

pub use flow::{
    protocol_name, Limits, Stats, DEFAULT_MAX_PER_EXPORTER, DEFAULT_MAX_TEMPLATES,
    DEFAULT_TEMPLATE_TIMEOUT,
};

/// Decodes NetFlow/IPFIX, keeping templates across calls.
#[derive(Debug, Default)]
pub struct NetflowDecoder {
    collector: flow::Collector,
}

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

fn is_pcap(data: &[u8]) -> bool {
    data.get(..4)
        .is_some_and(|m| PCAP_MAGICS.iter().any(|p| p == m) || m == PCAPNG_MAGIC)
}

/// Whether `p` starts with a NetFlow v5/v9/IPFIX header whose counts and
/// lengths fit the bytes given.
fn plausible_header(p: &[u8]) -> bool {
    let be16 = |o: usize| {
        p.get(o..o + 2)
            .map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])))
    };
    match be16(0) {
        Some(5) => be16(2).is_some_and(|c| (1..=30).contains(&c) && p.len() >= 24 + 48 * c),
        Some(9) => {
            be16(2).is_some_and(|c| c >= 1)
                && p.len() >= 24
                && be16(20).is_some_and(|id| id <= 1 || id >= 256)
                && be16(22).is_some_and(|l| l >= 4 && 20 + l <= p.len())
        }
        Some(10) => {
            be16(2).is_some_and(|l| l >= 20 && l <= p.len())
                && be16(16).is_some_and(|id| id == 2 || id == 3 || id >= 256)
                && be16(18).is_some_and(|l| l >= 4)
        }
        _ => false,
    }
}

/// How sure we are that `sample` (the first 64 KiB of an input) is NetFlow.
pub fn probe(sample: &[u8]) -> Confidence {
    if is_pcap(sample) {
        let mut found = false;
        let mut seen = 0;
        walk_pcap(sample, &mut |_, _, payload, _| {
            seen += 1;
            if plausible_header(payload) {
                found = true;
            }
            !found && seen < 64
        });
        return if found { 95 } else { 0 };
    }
    if plausible_header(sample) {
        60
    } else {
        0
    }
}

/// One UDP datagram found in a capture: (packet number, exporter, payload,
/// byte offset of the packet record). The callback returns false to stop.
type OnDatagram<'a> = dyn FnMut(u64, SocketAddr, &[u8], u64) -> bool + 'a;

/// What walking a capture ended with, when not its end.
enum WalkEnd {
    Done,
    Damaged {
        packet: u64,
        offset: Option<u64>,
        reason: String,
    },
}

fn udp_of(linktype: Linktype, data: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let sliced = match linktype {
        Linktype::ETHERNET => SlicedPacket::from_ethernet(data).ok()?,
        Linktype::LINUX_SLL => SlicedPacket::from_linux_sll(data).ok()?,
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => SlicedPacket::from_ip(data).ok()?,
        // BSD loopback: a 4-byte address family, then IP.
        Linktype::NULL | Linktype::LOOP => SlicedPacket::from_ip(data.get(4..)?).ok()?,
        _ => return None,
    };
    let src: IpAddr = match sliced.net.as_ref()? {
        NetSlice::Ipv4(v4) => IpAddr::V4(v4.header().source_addr()),
        NetSlice::Ipv6(v6) => IpAddr::V6(v6.header().source_addr()),
        _ => return None,
    };
    match sliced.transport.as_ref()? {
        TransportSlice::Udp(udp) => Some((SocketAddr::new(src, udp.source_port()), udp.payload())),
        _ => None,
    }
}

/// Calls `on` for every UDP datagram of a pcap or pcapng capture.
fn walk_pcap(data: &[u8], on: &mut OnDatagram<'_>) -> WalkEnd {
    let mut packet = 0u64;
    if data.get(..4) == Some(&PCAPNG_MAGIC[..]) {
        let Ok(slice) = PcapNGSlice::from_slice(data) else {
            return WalkEnd::Damaged {
                packet: 0,
                offset: Some(0),
                reason: "pcapng section header unreadable".into(),
            };
        };
        let mut linktypes: Vec<Linktype> = Vec::new();
        for block in slice {
            let block = match block {
                Ok(b) => b,
                Err(e) => {
                    return WalkEnd::Damaged {
                        packet: packet + 1,
                        offset: None,
                        reason: format!("pcapng block after packet {packet} unreadable: {e:?}"),
                    }
                }
            };
            let PcapBlockOwned::NG(block) = block else {
                continue;
            };
            let (lt, bytes) = match &block {
                Block::SectionHeader(_) => {
                    linktypes.clear();
                    continue;
                }
                Block::InterfaceDescription(idb) => {
                    linktypes.push(idb.linktype);
                    continue;
                }
                Block::EnhancedPacket(epb) => {
                    let lt = linktypes.get(epb.if_id as usize).copied();
                    let n = (epb.caplen as usize).min(epb.data.len());
                    (lt, &epb.data[..n])
                }
                Block::SimplePacket(spb) => {
                    let n = (spb.origlen as usize).min(spb.data.len());
                    (linktypes.first().copied(), &spb.data[..n])
                }
                _ => continue,
            };
            packet += 1;
            if let Some((exporter, payload)) = lt.and_then(|lt| udp_of(lt, bytes)) {
                if !on(packet, exporter, payload, 0) {
                    break;
                }
            }
        }
        return WalkEnd::Done;
    }
    let Ok(slice) = LegacyPcapSlice::from_slice(data) else {
        return WalkEnd::Damaged {
            packet: 0,
            offset: Some(0),
            reason: "pcap file header unreadable".into(),
        };
    };
    let linktype = slice.header.network;
    let mut offset = 24u64;
    for block in slice {
        let b = match block {
            Ok(PcapBlockOwned::Legacy(b)) => b,
            Ok(_) => continue,
            Err(e) => {
                let reason = match e {
                    pcap_parser::nom::Err::Incomplete(_) => {
                        format!("pcap record {} truncated", packet + 1)
                    }
                    other => format!("pcap record {} unreadable: {other:?}", packet + 1),
                };
                return WalkEnd::Damaged {
                    packet: packet + 1,
                    offset: Some(offset),
                    reason,
                };
            }
        };
        packet += 1;
        let here = offset;
        offset += 16 + u64::from(b.caplen);
        if let Some((exporter, payload)) = udp_of(linktype, b.data) {
            if !on(packet, exporter, payload, here) {
                break;
            }
        }
    }
    WalkEnd::Done
}

impl NetflowDecoder {
    pub fn new() -> Self {
        NetflowDecoder::default()
    }

    /// A decoder whose template cache keeps within `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        NetflowDecoder {
            collector: flow::Collector::with_limits(limits),
        }
    }

    /// Counters since the decoder was made.
    pub fn stats(&self) -> Stats {
        self.collector.stats
    }

    /// Decodes one UDP payload received from `exporter` (for a live
    /// collector). Templates persist across calls, per exporter.
    pub fn decode_datagram(
        &mut self,
        exporter: SocketAddr,
        payload: &[u8],
        location: Location,
        ctx: &DecodeContext,
        sink: &mut dyn Sink,
    ) {
        self.collector
            .decode_message(exporter, payload, location, ctx, sink);
    }
}

impl Decoder for NetflowDecoder {
    fn format(&self) -> Format {
        Format::Netflow
    }

    fn framing(&self) -> Framing {
        Framing::Whole
    }

    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        if is_pcap(data) {
            let collector = &mut self.collector;
            let end = walk_pcap(data, &mut |packet, exporter, payload, offset| {
                if matches!(payload.get(..2), Some([0, 5 | 9 | 10])) {
                    let loc = Location {
                        line: None,
                        // Offsets inside the datagram are added to the
                        // packet record's offset (pcapng: packet only).
                        offset: Some(ctx.offset_base + offset),
                        record: Some(packet),
                    };
                    collector.decode_message(exporter, payload, loc, ctx, sink);
                }
                true
            });
            if let WalkEnd::Damaged {
                packet,
                offset,
                reason,
            } = end
            {
                let loc = Location {
                    line: None,
                    offset: offset.map(|o| ctx.offset_base + o),
                    record: Some(packet),
                };
                let raw = offset
                    .and_then(|o| data.get(o as usize..))
                    .unwrap_or_default();
                sink.reject(Reject::new(ctx, loc, reason).raw(raw));
            }
            return;
        }
        if !matches!(data.get(..2), Some([0, 5 | 9 | 10])) {
            sink.reject(
                Reject::new(
                    ctx,
                    Location::offset(ctx.offset_base),
                    "neither a pcap/pcapng capture nor a NetFlow v5/v9/IPFIX payload",
                )
                .raw(data),
            );
            return;
        }
        // Raw payloads: one datagram, or IPFIX / v5 messages back to back.
        let exporter = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        let mut off = 0usize;
        let mut n = 0u64;
        while off < data.len() {
            n += 1;
            let loc = Location {
                line: None,
                offset: Some(ctx.offset_base + off as u64),
                record: Some(n),
            };
            let used = self
                .collector
                .decode_message(exporter, &data[off..], loc, ctx, sink);
            off += used.max(1);
            if off < data.len() && !plausible_header(&data[off..]) {
                sink.reject(
                    Reject::new(
                        ctx,
                        Location::offset(ctx.offset_base + off as u64),
                        format!(
                            "{} trailing bytes after NetFlow message {n}",
                            data.len() - off
                        ),
                    )
                    .raw(&data[off..]),
                );
                break;
            }
        }
    }
}
