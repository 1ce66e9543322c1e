//! Windows event log records, in every JSON flavour we meet, mapped to the
//! one Windows layout of ARCHITECTURE.md:
//!
//! 1. the `System` fields at the top level under their Sigma names
//!    (`EventID`, `Channel`, `Computer`, `Provider_Name`, …, `TimeCreated`);
//! 2. every `EventData` field by name and every `UserData` leaf by its
//!    element name (unnamed `Data` elements become `Data`, an array when
//!    repeated). A data field whose name is already taken by a `System`
//!    field is kept as `EventData.<name>` / `UserData.<name>` so that the
//!    `System` value (which Sigma log sources filter on) stays authoritative;
//! 3. ECS fields derived from the above (see [`crate::windows_ecs`]).
//!
//! The EVTX decoder renders each record to evtx-style JSON and calls
//! [`windows_event`], so a `.evtx` file and its JSON dump give identical
//! events.

use chrono::{DateTime, FixedOffset, SecondsFormat, Timelike};
use serde_json::{Map, Value as J};
use taishi_event::time::{from_epoch_millis, parse_iso_in, parse_rfc3339};
use taishi_event::{Event, Str, Value};

use crate::windows_ecs::add_ecs;

/// The `System` field names, in the order they are emitted.
pub const SYSTEM_FIELDS: [&str; 17] = [
    "EventID",
    "Channel",
    "Computer",
    "Provider_Name",
    "Provider_Guid",
    "Provider_EventSourceName",
    "EventRecordID",
    "Level",
    "Version",
    "Task",
    "Opcode",
    "Keywords",
    "ProcessID",
    "ThreadID",
    "SecurityUserID",
    "ActivityID",
    "TimeCreated",
];

fn is_system_field(name: &str) -> bool {
    SYSTEM_FIELDS.contains(&name)
}

/// Whether a JSON document is an evtx-style record (`{"Event": {"System": …}}`).
pub fn is_evtx_style(v: &J) -> bool {
    v.get("Event")
        .and_then(|e| e.get("System"))
        .is_some_and(J::is_object)
}

/// Whether a JSON object is one of the flat Windows flavours: winlogbeat /
/// ECS (`winlog.event_id`), or NXLog / OTRF-Mordor (`EventID` beside
/// `Channel`, `SourceName` or `Hostname`).
pub fn is_flat_windows(map: &Map<String, J>) -> bool {
    if let Some(w) = map.get("winlog") {
        return w.get("event_id").is_some();
    }
    if map.contains_key("winlog.event_id") {
        return true;
    }
    map.contains_key("EventID")
        && (map.contains_key("Channel")
            || map.contains_key("SourceName")
            || map.contains_key("Hostname")
            || map.contains_key("ProviderName"))
}

/// Maps an evtx-style JSON record (the `evtx` crate's JSON output, with
/// `#attributes` objects) to the Windows layout. None when `v` is not such a
/// record.
pub fn windows_event(v: &J) -> Option<Event> {
    let event = v.get("Event")?.as_object()?;
    let system = event.get("System")?.as_object()?;
    let mut ev = Event::with_capacity(64);

    let attr = |obj: Option<&J>, name: &str| -> Option<Value> {
        obj?.get("#attributes")?.get(name).map(leaf)
    };

    if let Some(id) = system.get("EventID").and_then(|v| as_int(&text_of(v))) {
        ev.push("EventID", id);
    }
    push_leaf(&mut ev, "Channel", system.get("Channel"));
    push_leaf(&mut ev, "Computer", system.get("Computer"));
    let provider = system.get("Provider");
    ev.push_some("Provider_Name", attr(provider, "Name"));
    ev.push_some("Provider_Guid", attr(provider, "Guid").map(guid_value));
    ev.push_some(
        "Provider_EventSourceName",
        attr(provider, "EventSourceName"),
    );
    push_leaf(&mut ev, "EventRecordID", system.get("EventRecordID"));
    push_leaf(&mut ev, "Level", system.get("Level"));
    push_leaf(&mut ev, "Version", system.get("Version"));
    push_leaf(&mut ev, "Task", system.get("Task"));
    push_leaf(&mut ev, "Opcode", system.get("Opcode"));
    push_leaf(&mut ev, "Keywords", system.get("Keywords"));
    let execution = system.get("Execution");
    ev.push_some("ProcessID", attr(execution, "ProcessID"));
    ev.push_some("ThreadID", attr(execution, "ThreadID"));
    ev.push_some("SecurityUserID", attr(system.get("Security"), "UserID"));
    ev.push_some(
        "ActivityID",
        attr(system.get("Correlation"), "ActivityID").map(guid_value),
    );
    let time_created = attr(system.get("TimeCreated"), "SystemTime");
    match &time_created {
        Some(Value::Str(t)) => match parse_rfc3339(t) {
            Some(ts) => {
                // Windows keeps 100 ns ticks; evtx renderers print 6 or 7
                // digits depending on their version. Microseconds (cut, not
                // rounded, as the 6-digit renderers do) make an .evtx file and
                // any JSON dump of it agree.
                let ts = truncate_to_micros(ts);
                ev.timestamp = Some(ts);
                ev.push("TimeCreated", system_time(&ts));
            }
            None => ev.push("TimeCreated", time_created.unwrap_or_default()),
        },
        _ => ev.push_some("TimeCreated", time_created),
    }

    if let Some(data) = event.get("EventData") {
        add_event_data(&mut ev, data, "EventData");
    }
    if let Some(data) = event.get("UserData") {
        let mut leaves = Vec::new();
        collect_leaves(data, &mut leaves, 0);
        for (name, value) in leaves {
            add_data_field(&mut ev, "UserData", name, value);
        }
    }
    // Rare record shapes (`ProcessingErrorData`, `DebugData`, `BinaryEventData`)
    // carry their payload beside `EventData`: kept by leaf name too.
    for (k, v) in event {
        if matches!(
            k.as_str(),
            "System" | "EventData" | "UserData" | "#attributes" | "RenderingInfo"
        ) {
            continue;
        }
        let mut leaves = Vec::new();
        collect_leaves(v, &mut leaves, 0);
        for (name, value) in leaves {
            add_data_field(&mut ev, k, name, value);
        }
    }
    add_ecs(&mut ev);
    Some(ev)
}

/// `EventData`: an object of named `Data` values (`{"CommandLine": …}`),
/// possibly with unnamed ones as `"Data": {"#text": v | [v…]}`, `Binary`,
/// and the container's own `#attributes`.
fn add_event_data(ev: &mut Event, data: &J, section: &str) {
    match data {
        J::Object(map) => {
            for (name, value) in map {
                if name == "#attributes" {
                    continue;
                }
                if name == "#text" {
                    add_data_field(ev, section, "Data", leaf(value));
                    continue;
                }
                add_data_field(ev, section, name, data_value(value));
            }
        }
        J::Null => {}
        // A bare text body (`<EventData>text</EventData>`).
        other => add_data_field(ev, section, "Data", leaf(other)),
    }
}

/// A data element's value: `{"#text": x}` is x, `{"#attributes": …}` alone
/// is null, anything else keeps its shape.
fn data_value(v: &J) -> Value {
    match v {
        J::Object(m) => {
            if let Some(t) = m.get("#text") {
                return leaf(t);
            }
            let rest: Vec<(Str, Value)> = m
                .iter()
                .filter(|(k, _)| k.as_str() != "#attributes")
                .map(|(k, v)| (Str::from(k.as_str()), data_value(v)))
                .collect();
            if rest.is_empty() {
                Value::Null
            } else {
                Value::Object(rest)
            }
        }
        J::Array(a) => Value::Array(a.iter().map(data_value).collect()),
        other => leaf(other),
    }
}

fn add_data_field(ev: &mut Event, section: &str, name: &str, value: Value) {
    let value = match value {
        Value::Str(s) => match old_guid(&s) {
            Some(g) => Value::Str(g),
            None => Value::Str(s),
        },
        other => other,
    };
    if is_system_field(name) {
        let mut prefixed = Str::from(section);
        prefixed.push('.');
        prefixed.push_str(name);
        push_or_append(ev, prefixed, value);
    } else {
        push_or_append(ev, Str::from(name), value);
    }
}

/// A repeated name (a UserData leaf at two depths, unnamed `Data` twice)
/// becomes an array rather than two fields of one name.
fn push_or_append(ev: &mut Event, name: Str, value: Value) {
    let fields = ev.fields_mut();
    if let Some((_, existing)) = fields.iter_mut().find(|(k, _)| *k == name) {
        match existing {
            Value::Array(a) => a.push(value),
            other => {
                let first = std::mem::take(other);
                *other = Value::Array(vec![first, value]);
            }
        }
    } else {
        fields.push((name, value));
    }
}

/// UserData leaves by element name: objects are walked (their
/// `#attributes`, which hold namespaces, skipped), `{"#text": x}` is a leaf,
/// arrays of scalars are leaves.
fn collect_leaves<'a>(v: &'a J, out: &mut Vec<(&'a str, Value)>, depth: usize) {
    let J::Object(map) = v else { return };
    if depth > 64 {
        return;
    }
    for (k, v) in map {
        if k == "#attributes" {
            continue;
        }
        match v {
            J::Object(inner) if inner.contains_key("#text") => {
                out.push((k.as_str(), data_value(v)))
            }
            J::Object(_) => collect_leaves(v, out, depth + 1),
            J::Array(items) if items.iter().any(J::is_object) => {
                for item in items {
                    if item.is_object() {
                        collect_leaves(item, out, depth + 1);
                    } else {
                        out.push((k.as_str(), leaf(item)));
                    }
                }
            }
            other => out.push((k.as_str(), data_value(other))),
        }
    }
}

/// A scalar JSON value as an event value; `{"#text": x}` is x.
fn leaf(v: &J) -> Value {
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => number(n),
        J::String(s) => Value::Str(Str::from(s.as_str())),
        J::Object(m) if m.contains_key("#text") => m.get("#text").map_or(Value::Null, leaf),
        other => Value::from_json(other.clone()),
    }
}

fn number(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else if let Some(u) = n.as_u64() {
        Value::UInt(u)
    } else {
        Value::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

fn push_leaf(ev: &mut Event, name: &'static str, v: Option<&J>) {
    if let Some(v) = v {
        ev.push_some(name, leaf(v));
    }
}

/// GUID-typed values as the `evtx` crate renders them (and Windows shows
/// them): `{5770385f-c22a-43e0-bf4c-06f5698ffbd9}`. Older renderers wrote
/// `5770385F-C22A-43E0-BF4C-06F5698FFBD9`; both become the former so that a
/// log and its older JSON dumps agree, and so that Sigma values written from
/// Windows' XML (`'{0CCE9217-…}'`) match.
fn guid_value(v: Value) -> Value {
    match v {
        Value::Str(s) => {
            let inner = s
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .unwrap_or(&s);
            if is_guid(inner) {
                Value::Str(braced_lower(inner))
            } else {
                Value::Str(s)
            }
        }
        other => other,
    }
}

/// Only the old renderers' exact form (bare, upper case) is rewritten in
/// data fields: a string-typed field holding some other GUID spelling is
/// the source's own text and is kept.
fn old_guid(s: &str) -> Option<Str> {
    (is_guid(s) && !s.bytes().any(|b| b.is_ascii_lowercase())).then(|| braced_lower(s))
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn braced_lower(s: &str) -> Str {
    let mut out = Str::with_capacity(38);
    out.push('{');
    for c in s.chars() {
        out.push(c.to_ascii_lowercase());
    }
    out.push('}');
    out
}

/// `{"#attributes": {"Qualifiers": …}, "#text": 7036}` or plain `7036`.
fn text_of(v: &J) -> Value {
    leaf(v)
}

/// Decimal or `0x` hexadecimal integers, from numbers or text.
pub(crate) fn as_int(v: &Value) -> Option<Value> {
    match v {
        Value::Int(_) | Value::UInt(_) => Some(v.clone()),
        Value::Str(s) => parse_int(s),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(Value::Int(*f as i64)),
        _ => None,
    }
}

pub(crate) fn parse_int(s: &str) -> Option<Value> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(Value::UInt);
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::Int(i));
    }
    s.parse::<u64>().ok().map(Value::UInt)
}

/// Flat Windows JSON (winlogbeat/ECS, NXLog, OTRF/Mordor) to the Windows
/// layout. `default_tz` places zone-less times (NXLog `EventTime` is local
/// time without a zone). None when `map` is none of these flavours.
pub fn flat_windows_event(map: &Map<String, J>, default_tz: FixedOffset) -> Option<Event> {
    if !is_flat_windows(map) {
        return None;
    }
    let mut flat: Vec<(String, &J)> = Vec::with_capacity(map.len() + 16);
    flatten_refs("", map, &mut flat, 0);
    let winlogbeat = flat.iter().any(|(k, _)| k == "winlog.event_id");
    let mut ev = Event::with_capacity(flat.len() + 24);
    let mut used = vec![false; flat.len()];
    let find = |used: &mut Vec<bool>, names: &[&str]| -> Option<Value> {
        for name in names {
            if let Some(i) = flat.iter().position(|(k, _)| k == name) {
                if let Some(u) = used.get_mut(i) {
                    *u = true;
                }
                let v = flat.get(i).map(|(_, v)| leaf(v)).unwrap_or_default();
                if !v.is_null() && v.as_str() != Some("") {
                    return Some(v);
                }
            }
        }
        None
    };

    // (Sigma name, winlogbeat names, NXLog/Mordor names)
    const SYSTEM_MAP: [(&str, &[&str], &[&str]); 15] = [
        ("EventID", &["winlog.event_id", "event.code"], &["EventID"]),
        ("Channel", &["winlog.channel"], &["Channel"]),
        (
            "Computer",
            &["winlog.computer_name", "host.hostname", "host.name"],
            &["Computer", "Hostname"],
        ),
        (
            "Provider_Name",
            &["winlog.provider_name", "event.provider"],
            &["Provider_Name", "SourceName", "ProviderName"],
        ),
        (
            "Provider_Guid",
            &["winlog.provider_guid"],
            &["Provider_Guid", "ProviderGuid"],
        ),
        (
            "EventRecordID",
            &["winlog.record_id"],
            &["EventRecordID", "RecordNumber"],
        ),
        ("Level", &["winlog.level"], &["Level"]),
        ("Version", &["winlog.version"], &["Version"]),
        ("Task", &["winlog.task"], &["Task"]),
        ("Opcode", &["winlog.opcode"], &["Opcode", "OpcodeValue"]),
        ("Keywords", &["winlog.keywords"], &["Keywords"]),
        (
            "ProcessID",
            &["winlog.process.pid"],
            &["ExecutionProcessID", "ProcessID"],
        ),
        (
            "ThreadID",
            &["winlog.process.thread.id"],
            &["ExecutionThreadID", "ThreadID"],
        ),
        (
            "SecurityUserID",
            &["winlog.user.identifier"],
            &["SecurityUserID", "UserID"],
        ),
        ("ActivityID", &["winlog.activity_id"], &["ActivityID"]),
    ];
    for (name, wb, nx) in SYSTEM_MAP {
        let v = if winlogbeat {
            find(&mut used, wb)
        } else {
            find(&mut used, nx)
        };
        let Some(v) = v else { continue };
        match name {
            "EventID" | "EventRecordID" | "ProcessID" | "ThreadID" | "Level" | "Version"
            | "Task" => {
                let n = as_int(&v).unwrap_or(v);
                ev.push(name, n);
            }
            _ => ev.push(name, v),
        }
    }

    // The event time: ECS `@timestamp`, NXLog `EventTime`, or winlogbeat's
    // `winlog.time_created`.
    let time = find(
        &mut used,
        &[
            "@timestamp",
            "TimeCreated",
            "winlog.time_created",
            "EventTime",
            "timestamp",
        ],
    );
    ev.timestamp = time.as_ref().and_then(|t| match t {
        Value::Str(s) => parse_iso_in(s, default_tz),
        Value::Int(ms) => from_epoch_millis(*ms),
        _ => None,
    });
    if let Some(ts) = ev.timestamp {
        ev.push("TimeCreated", system_time(&ts));
    }

    // Event data: winlogbeat keeps it under winlog.event_data / user_data;
    // NXLog and Mordor put it at the top level beside the metadata.
    for (i, (k, v)) in flat.iter().enumerate() {
        if used.get(i).copied().unwrap_or(true) {
            continue;
        }
        let value = data_value(v);
        if winlogbeat {
            if let Some(name) = k
                .strip_prefix("winlog.event_data.")
                .or_else(|| k.strip_prefix("winlog.user_data."))
            {
                let section = if k.starts_with("winlog.event_data.") {
                    "EventData"
                } else {
                    "UserData"
                };
                add_data_field(&mut ev, section, name, value);
            }
        } else if !k.starts_with('@') {
            add_data_field(&mut ev, "EventData", k, value);
        }
    }
    add_ecs(&mut ev);
    // The rest of a winlogbeat document (its own ECS fields, message, agent…)
    // is kept where ours did not already fill the name.
    if winlogbeat {
        for (i, (k, v)) in flat.iter().enumerate() {
            if used.get(i).copied().unwrap_or(true)
                || k.starts_with("winlog.event_data.")
                || k.starts_with("winlog.user_data.")
                || k.starts_with('@')
                || ev.contains(k)
            {
                continue;
            }
            ev.push(k.as_str(), data_value(v));
        }
    }
    Some(ev)
}

fn truncate_to_micros(ts: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    let nanos = ts.timestamp_subsec_nanos();
    ts.with_nanosecond(nanos - nanos % 1000).unwrap_or(ts)
}

/// `TimeCreated` as the evtx crate writes `SystemTime`.
fn system_time(ts: &DateTime<FixedOffset>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Dotted names for nested objects; arrays and leaves stay whole.
fn flatten_refs<'a>(
    prefix: &str,
    map: &'a Map<String, J>,
    out: &mut Vec<(String, &'a J)>,
    depth: usize,
) {
    for (k, v) in map {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            J::Object(inner) if depth < 64 && !inner.contains_key("#text") && !inner.is_empty() => {
                flatten_refs(&name, inner, out, depth + 1)
            }
            _ => out.push((name, v)),
        }
    }
}
