use taishi_event::{Confidence, Decoder, Format};

/// A format's content probe.
type Probe = fn(&[u8]) -> Confidence;

/// Picks the format of an input from its first bytes (decompressed). Every
/// format's probe is asked; the most confident wins, so that a Suricata EVE
/// line is EVE and not merely JSON, and CEF inside syslog is CEF.
pub fn detect(sample: &[u8]) -> Option<(Format, Confidence)> {
    let probes: [(Format, Probe); 10] = [
        (Format::Evtx, taishi_format_evtx::probe),
        (Format::Netflow, taishi_format_netflow::probe),
        (Format::Eve, taishi_format_eve::probe),
        (Format::Zeek, taishi_format_zeek::probe),
        (Format::Auditd, taishi_format_auditd::probe),
        (Format::Cef, taishi_format_cef::probe_cef),
        (Format::Leef, taishi_format_cef::probe_leef),
        (Format::Access, taishi_format_access::probe),
        (Format::Syslog, taishi_format_syslog::probe),
        (Format::Json, taishi_format_json::probe),
    ];
    probes
        .iter()
        .map(|(f, p)| (*f, p(sample)))
        .filter(|(_, c)| *c > 0)
        // Ties go to the earlier, more specific format.
        .fold(None, |best: Option<(Format, Confidence)>, cur| match best {
            Some(b) if b.1 >= cur.1 => Some(b),
            _ => Some(cur),
        })
}

/// A fresh decoder for `format`.
pub fn new_decoder(format: Format) -> Box<dyn Decoder> {
    match format {
        Format::Evtx => Box::new(taishi_format_evtx::EvtxDecoder::new()),
        Format::Json => Box::new(taishi_format_json::JsonDecoder::new()),
        Format::Syslog => Box::new(taishi_format_syslog::SyslogDecoder::new()),
        Format::Cef => Box::new(taishi_format_cef::CefDecoder::new()),
        Format::Leef => Box::new(taishi_format_cef::LeefDecoder::new()),
        Format::Eve => Box::new(taishi_format_eve::EveDecoder::new()),
        Format::Zeek => Box::new(taishi_format_zeek::ZeekDecoder::new()),
        Format::Auditd => Box::new(taishi_format_auditd::AuditdDecoder::new()),
        Format::Netflow => Box::new(taishi_format_netflow::NetflowDecoder::new()),
        Format::Access => Box::new(taishi_format_access::AccessDecoder::new()),
    }
}
