//! Taishi's enrichment stage: GeoIP and ASN from MaxMind DB files.
//!
//! [`GeoIp::open`] reads the databases named in the `[enrich]` section of
//! `taishi.toml` ([`EnrichConfig`]); with nothing configured it opens
//! nothing and [`GeoIp::enrich`] does nothing.
//!
//! For each of `source.ip`, `destination.ip`, `client.ip`, `server.ip` and
//! `host.ip` (the first public address when it is a list) holding a public
//! address, `enrich` adds the ECS fields
//!
//! | field | from |
//! |---|---|
//! | `*.geo.country_iso_code`, `*.geo.country_name` | City/Country/Enterprise `country` |
//! | `*.geo.continent_code`, `*.geo.continent_name` | `continent` |
//! | `*.geo.region_iso_code`, `*.geo.region_name` | first `subdivisions` entry (`GB-ENG`, `England`) |
//! | `*.geo.city_name`, `*.geo.postal_code`, `*.geo.timezone` | `city`, `postal`, `location.time_zone` |
//! | `*.geo.location.lat`, `*.geo.location.lon` | `location` |
//! | `*.as.number`, `*.as.organization.name` | ASN or ISP database |
//!
//! Names are English; where the database has Simplified Chinese names
//! (`zh-CN`) they are added beside them as `*.geo.country_name_zh`,
//! `*.geo.region_name_zh`, `*.geo.city_name_zh` and
//! `*.geo.continent_name_zh` for the bilingual console.
//!
//! Fields an event already has (a sensor that enriched it itself) are kept:
//! a prefix whose `*.geo.country_iso_code` or `*.geo.city_name` is present is
//! not looked up again, nor one whose `*.as.number` is present.
//!
//! Private, loopback, link-local, CGNAT, multicast and unspecified addresses
//! are skipped before any lookup: they are most of the addresses in internal
//! telemetry and no public database knows them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use maxminddb::{MaxMindDbError, Reader};
use serde::{Deserialize, Serialize};
use taishi_event::{Event, Str, Value};

/// The `[enrich]` section of `taishi.toml`. The default configures nothing,
/// and enrichment is then a no-op.
///
/// ```toml
/// [enrich]
/// geoip_city = "/var/lib/taishi/GeoLite2-City.mmdb"   # or a Country/Enterprise database
/// geoip_asn  = "/var/lib/taishi/GeoLite2-ASN.mmdb"    # or a GeoIP2-ISP database
/// verify = true                                         # check every record when opening
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrichConfig {
    /// A City, Country or Enterprise database (GeoLite2 or GeoIP2).
    pub geoip_city: Option<PathBuf>,
    /// An ASN (GeoLite2-ASN) or ISP (GeoIP2-ISP) database.
    pub geoip_asn: Option<PathBuf>,
    /// Walk every record of the databases when opening them, so that a
    /// corrupt or truncated download is refused at start-up rather than
    /// discovered lookup by lookup. A GeoLite2-City file takes about a
    /// second.
    pub verify: bool,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            geoip_city: None,
            geoip_asn: None,
            verify: true,
        }
    }
}

impl EnrichConfig {
    pub fn is_empty(&self) -> bool {
        self.geoip_city.is_none() && self.geoip_asn.is_none()
    }

    /// Problems a configuration check can report without opening the
    /// databases (missing files), each naming the key.
    pub fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (key, p) in [
            ("geoip_city", &self.geoip_city),
            ("geoip_asn", &self.geoip_asn),
        ] {
            if let Some(p) = p {
                if !p.is_file() {
                    out.push(format!(
                        "enrich.{key}: {} is not a readable file",
                        p.display()
                    ));
                }
            }
        }
        out
    }
}

/// Why a database could not be used. The message names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("enrich.{key}: cannot use GeoIP database {}: {source}", path.display())]
    Open {
        key: &'static str,
        path: PathBuf,
        #[source]
        source: MaxMindDbError,
    },
    #[error(
        "enrich.{key}: {} is a `{found}` database; {key} takes {expected}",
        path.display()
    )]
    WrongType {
        key: &'static str,
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
}

/// What an open database is, for the console's health and settings pages.
#[derive(Debug, Clone, Serialize)]
pub struct DbInfo {
    pub key: &'static str,
    pub path: PathBuf,
    /// `database_type` from the metadata: `GeoLite2-City`, `GeoLite2-ASN`…
    pub database_type: String,
    /// When MaxMind built the file (seconds since the epoch).
    pub build_epoch: u64,
    pub ip_version: u16,
    pub node_count: u32,
}

struct Db {
    reader: Reader<Vec<u8>>,
    info: DbInfo,
}

impl Db {
    fn open(
        key: &'static str,
        path: &Path,
        verify: bool,
        accepts: fn(&str) -> bool,
        expected: &'static str,
    ) -> Result<Db, Error> {
        let err = |source| Error::Open {
            key,
            path: path.to_path_buf(),
            source,
        };
        let reader = Reader::open_readfile(path).map_err(err)?;
        let md = reader.metadata();
        if !accepts(&md.database_type) {
            return Err(Error::WrongType {
                key,
                path: path.to_path_buf(),
                found: md.database_type.clone(),
                expected,
            });
        }
        if verify {
            reader.verify().map_err(err)?;
        }
        let info = DbInfo {
            key,
            path: path.to_path_buf(),
            database_type: md.database_type.clone(),
            build_epoch: md.build_epoch,
            ip_version: md.ip_version,
            node_count: md.node_count,
        };
        Ok(Db { reader, info })
    }
}

fn is_city_type(t: &str) -> bool {
    // GeoIP2-City, GeoLite2-Country, GeoIP2-Enterprise, GeoIP2-City-Shield,
    // GeoIP2-Precision-Enterprise, DBIP-City-Lite…: all share the City layout.
    ["City", "Country", "Enterprise"]
        .iter()
        .any(|k| t.contains(k))
}

fn is_asn_type(t: &str) -> bool {
    t.contains("ASN") || t.contains("ISP")
}

/// The GeoIP/ASN enricher. `Send + Sync`: share one behind an `Arc` across
/// the pipeline's threads.
pub struct GeoIp {
    city: Option<Db>,
    asn: Option<Db>,
    lookup_errors: AtomicU64,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("databases", &self.databases())
            .finish()
    }
}

/// The ECS names for one address field, spelled out once so that an enrich
/// pass builds no strings for names: `Str::const_new` keeps a `'static`
/// name without copying it (most of these are longer than the 24 bytes a
/// `Str` holds inline).
struct Names {
    ip: &'static str,
    country_iso: &'static str,
    country: &'static str,
    country_zh: &'static str,
    continent_code: &'static str,
    continent: &'static str,
    continent_zh: &'static str,
    region_iso: &'static str,
    region: &'static str,
    region_zh: &'static str,
    city: &'static str,
    city_zh: &'static str,
    postal: &'static str,
    timezone: &'static str,
    lat: &'static str,
    lon: &'static str,
    as_number: &'static str,
    as_org: &'static str,
}

macro_rules! names {
    ($p:literal) => {
        Names {
            ip: concat!($p, ".ip"),
            country_iso: concat!($p, ".geo.country_iso_code"),
            country: concat!($p, ".geo.country_name"),
            country_zh: concat!($p, ".geo.country_name_zh"),
            continent_code: concat!($p, ".geo.continent_code"),
            continent: concat!($p, ".geo.continent_name"),
            continent_zh: concat!($p, ".geo.continent_name_zh"),
            region_iso: concat!($p, ".geo.region_iso_code"),
            region: concat!($p, ".geo.region_name"),
            region_zh: concat!($p, ".geo.region_name_zh"),
            city: concat!($p, ".geo.city_name"),
            city_zh: concat!($p, ".geo.city_name_zh"),
            postal: concat!($p, ".geo.postal_code"),
            timezone: concat!($p, ".geo.timezone"),
            lat: concat!($p, ".geo.location.lat"),
            lon: concat!($p, ".geo.location.lon"),
            as_number: concat!($p, ".as.number"),
            as_org: concat!($p, ".as.organization.name"),
        }
    };
}

static PREFIXES: [Names; 5] = [
    names!("source"),
    names!("destination"),
    names!("client"),
    names!("server"),
    names!("host"),
];

// Only the fields we copy are decoded; the rest of a record (eight
// languages of names, geoname ids, registered country…) is skipped without
// building anything.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LangNames<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
    #[serde(borrow, rename = "zh-CN")]
    zh: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Place<'a> {
    #[serde(borrow)]
    code: Option<&'a str>,
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: LangNames<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Location<'a> {
    latitude: Option<f64>,
    longitude: Option<f64>,
    #[serde(borrow)]
    time_zone: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CityRecord<'a> {
    #[serde(borrow)]
    city: Place<'a>,
    #[serde(borrow)]
    continent: Place<'a>,
    #[serde(borrow)]
    country: Place<'a>,
    #[serde(borrow)]
    location: Location<'a>,
    #[serde(borrow)]
    postal: Place<'a>,
    #[serde(borrow)]
    subdivisions: Vec<Place<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AsnRecord<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

/// The answer for one address, owned (for the API and for reuse when one
/// event holds the same address twice).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GeoInfo {
    pub country_iso_code: Option<String>,
    pub country_name: Option<String>,
    pub country_name_zh: Option<String>,
    pub continent_code: Option<String>,
    pub continent_name: Option<String>,
    pub continent_name_zh: Option<String>,
    pub region_iso_code: Option<String>,
    pub region_name: Option<String>,
    pub region_name_zh: Option<String>,
    pub city_name: Option<String>,
    pub city_name_zh: Option<String>,
    pub postal_code: Option<String>,
    pub timezone: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub as_number: Option<u32>,
    pub as_organization: Option<String>,
}

impl GeoInfo {
    pub fn is_empty(&self) -> bool {
        *self == GeoInfo::default()
    }
}

/// What one lookup yields, as event values (cheap to clone: short strings
/// are inline).
#[derive(Default, Clone)]
struct Found {
    city: Vec<(usize, Value)>,
    asn: Vec<(usize, Value)>,
}

// Indices into a `Names`, so one lookup's values can be pushed under any
// prefix.
const F_COUNTRY_ISO: usize = 0;
const F_COUNTRY: usize = 1;
const F_COUNTRY_ZH: usize = 2;
const F_CONTINENT_CODE: usize = 3;
const F_CONTINENT: usize = 4;
const F_CONTINENT_ZH: usize = 5;
const F_REGION_ISO: usize = 6;
const F_REGION: usize = 7;
const F_REGION_ZH: usize = 8;
const F_CITY: usize = 9;
const F_CITY_ZH: usize = 10;
const F_POSTAL: usize = 11;
const F_TIMEZONE: usize = 12;
const F_LAT: usize = 13;
const F_LON: usize = 14;
const F_AS_NUMBER: usize = 15;
const F_AS_ORG: usize = 16;

impl Names {
    fn field(&self, i: usize) -> &'static str {
        match i {
            F_COUNTRY_ISO => self.country_iso,
            F_COUNTRY => self.country,
            F_COUNTRY_ZH => self.country_zh,
            F_CONTINENT_CODE => self.continent_code,
            F_CONTINENT => self.continent,
            F_CONTINENT_ZH => self.continent_zh,
            F_REGION_ISO => self.region_iso,
            F_REGION => self.region,
            F_REGION_ZH => self.region_zh,
            F_CITY => self.city,
            F_CITY_ZH => self.city_zh,
            F_POSTAL => self.postal,
            F_TIMEZONE => self.timezone,
            F_LAT => self.lat,
            F_LON => self.lon,
            F_AS_NUMBER => self.as_number,
            _ => self.as_org,
        }
    }
}

impl GeoIp {
    /// Opens the configured databases. Nothing configured gives an enricher
    /// that does nothing.
    pub fn open(cfg: &EnrichConfig) -> Result<GeoIp, Error> {
        let city = cfg
            .geoip_city
            .as_deref()
            .map(|p| {
                Db::open(
                    "geoip_city",
                    p,
                    cfg.verify,
                    is_city_type,
                    "a City, Country or Enterprise database",
                )
            })
            .transpose()?;
        let asn = cfg
            .geoip_asn
            .as_deref()
            .map(|p| {
                Db::open(
                    "geoip_asn",
                    p,
                    cfg.verify,
                    is_asn_type,
                    "an ASN or ISP database",
                )
            })
            .transpose()?;
        Ok(GeoIp {
            city,
            asn,
            lookup_errors: AtomicU64::new(0),
        })
    }

    /// An enricher with no databases.
    pub fn disabled() -> GeoIp {
        GeoIp {
            city: None,
            asn: None,
            lookup_errors: AtomicU64::new(0),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.city.is_some() || self.asn.is_some()
    }

    pub fn databases(&self) -> Vec<DbInfo> {
        self.city
            .iter()
            .chain(&self.asn)
            .map(|d| d.info.clone())
            .collect()
    }

    /// Lookups that failed on a damaged record (counted, never fatal: the
    /// event goes on without those fields).
    pub fn lookup_errors(&self) -> u64 {
        self.lookup_errors.load(Ordering::Relaxed)
    }

    /// Adds GeoIP/ASN fields for the event's address fields.
    pub fn enrich(&self, event: &mut Event) {
        if !self.is_enabled() {
            return;
        }
        // One event often holds one address twice (client.ip = source.ip).
        let mut seen: [Option<(IpAddr, Found)>; 5] = Default::default();
        for (slot, names) in PREFIXES.iter().enumerate() {
            let Some(ip) = event.get(names.ip).and_then(public_ip) else {
                continue;
            };
            let want_city = self.city.is_some()
                && !event.contains(names.country_iso)
                && !event.contains(names.city);
            let want_asn = self.asn.is_some() && !event.contains(names.as_number);
            if !want_city && !want_asn {
                continue;
            }
            let found = match seen.iter().flatten().find(|(a, _)| *a == ip) {
                Some((_, f)) => f.clone(),
                None => self.find(ip),
            };
            if want_city {
                for (i, v) in &found.city {
                    event.push(Str::const_new(names.field(*i)), v.clone());
                }
            }
            if want_asn {
                for (i, v) in &found.asn {
                    event.push(Str::const_new(names.field(*i)), v.clone());
                }
            }
            seen[slot] = Some((ip, found));
        }
    }

    fn find(&self, ip: IpAddr) -> Found {
        let mut out = Found::default();
        if let Some(db) = &self.city {
            match decode::<CityRecord>(&db.reader, ip) {
                Ok(Some(r)) => city_values(&r, &mut out.city),
                Ok(None) => {}
                Err(_) => {
                    self.lookup_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if let Some(db) = &self.asn {
            match decode::<AsnRecord>(&db.reader, ip) {
                Ok(Some(r)) => {
                    if let Some(n) = r.autonomous_system_number {
                        out.asn.push((F_AS_NUMBER, Value::UInt(n.into())));
                    }
                    if let Some(o) = r.autonomous_system_organization.filter(|s| !s.is_empty()) {
                        out.asn.push((F_AS_ORG, Value::from(o)));
                    }
                }
                Ok(None) => {}
                Err(_) => {
                    self.lookup_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        out
    }

    /// Looks one address up (private addresses included), for the console's
    /// address details. Errors name the database file.
    pub fn lookup(&self, ip: IpAddr) -> Result<GeoInfo, Error> {
        let mut g = GeoInfo::default();
        if let Some(db) = &self.city {
            let r = decode::<CityRecord>(&db.reader, ip).map_err(|source| Error::Open {
                key: db.info.key,
                path: db.info.path.clone(),
                source,
            })?;
            if let Some(r) = r {
                let own = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
                let region = r.subdivisions.first();
                g.country_iso_code = own(r.country.iso_code);
                g.country_name = own(r.country.names.en);
                g.country_name_zh = own(r.country.names.zh);
                g.continent_code = own(r.continent.code);
                g.continent_name = own(r.continent.names.en);
                g.continent_name_zh = own(r.continent.names.zh);
                g.region_iso_code = region.and_then(|s| region_iso(r.country.iso_code, s));
                g.region_name = own(region.and_then(|s| s.names.en));
                g.region_name_zh = own(region.and_then(|s| s.names.zh));
                g.city_name = own(r.city.names.en);
                g.city_name_zh = own(r.city.names.zh);
                g.postal_code = own(r.postal.code);
                g.timezone = own(r.location.time_zone);
                g.lat = r.location.latitude;
                g.lon = r.location.longitude;
            }
        }
        if let Some(db) = &self.asn {
            let r = decode::<AsnRecord>(&db.reader, ip).map_err(|source| Error::Open {
                key: db.info.key,
                path: db.info.path.clone(),
                source,
            })?;
            if let Some(r) = r {
                g.as_number = r.autonomous_system_number;
                g.as_organization = r.autonomous_system_organization.map(str::to_string);
            }
        }
        Ok(g)
    }
}

fn decode<'a, T: Deserialize<'a>>(
    reader: &'a Reader<Vec<u8>>,
    ip: IpAddr,
) -> Result<Option<T>, MaxMindDbError> {
    let r = reader.lookup(ip)?;
    if !r.has_data() {
        return Ok(None);
    }
    r.decode::<T>()
}

/// ECS `region_iso_code` is the full ISO 3166-2 code (`GB-ENG`); MaxMind
/// stores the part after the country.
fn region_iso(country: Option<&str>, sub: &Place<'_>) -> Option<String> {
    let code = sub.iso_code.filter(|s| !s.is_empty())?;
    Some(match country {
        Some(c) if !c.is_empty() => format!("{c}-{code}"),
        _ => code.to_string(),
    })
}

fn city_values(r: &CityRecord<'_>, out: &mut Vec<(usize, Value)>) {
    let mut s = |i: usize, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push((i, Value::from(v)));
        }
    };
    s(F_COUNTRY_ISO, r.country.iso_code);
    s(F_COUNTRY, r.country.names.en);
    s(F_COUNTRY_ZH, r.country.names.zh);
    s(F_CONTINENT_CODE, r.continent.code);
    s(F_CONTINENT, r.continent.names.en);
    s(F_CONTINENT_ZH, r.continent.names.zh);
    if let Some(sub) = r.subdivisions.first() {
        s(F_REGION, sub.names.en);
        s(F_REGION_ZH, sub.names.zh);
    }
    s(F_CITY, r.city.names.en);
    s(F_CITY_ZH, r.city.names.zh);
    s(F_POSTAL, r.postal.code);
    s(F_TIMEZONE, r.location.time_zone);
    if let Some(code) = r
        .subdivisions
        .first()
        .and_then(|sub| region_iso(r.country.iso_code, sub))
    {
        out.push((F_REGION_ISO, Value::from(code)));
    }
    if let (Some(lat), Some(lon)) = (r.location.latitude, r.location.longitude) {
        out.push((F_LAT, Value::Float(lat)));
        out.push((F_LON, Value::Float(lon)));
    }
}

/// The address a field holds, when it is one worth looking up. `host.ip` is
/// often a list: its first public address is taken.
fn public_ip(v: &Value) -> Option<IpAddr> {
    match v {
        Value::Str(s) => parse_ip(s).filter(is_public),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(parse_ip)
            .find(is_public),
        _ => None,
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    // Cheap rejection of values that cannot be an address (host names,
    // "-", empty) before the std parser.
    let b = s.as_bytes();
    if b.len() < 2 || b.len() > 45 || !(b[0].is_ascii_hexdigit() || b[0] == b':') {
        return None;
    }
    let ip: IpAddr = s.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    })
}

/// Whether a public database can know the address.
pub fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: &Ipv4Addr) -> bool {
    let [b0, b1, ..] = a.octets();
    !(a.is_private()
        || a.is_loopback()
        || a.is_link_local()
        || a.is_broadcast()
        || a.is_unspecified()
        || a.is_multicast()
        || b0 == 0
        // 100.64.0.0/10, carrier-grade NAT (RFC 6598)
        || (b0 == 100 && (b1 & 0xc0) == 64)
        // 240.0.0.0/4, reserved
        || b0 >= 240)
}

fn is_public_v6(a: &Ipv6Addr) -> bool {
    let s0 = a.segments()[0];
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local
        || (s0 & 0xfe00) == 0xfc00
        || (s0 & 0xffc0) == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_internal_addresses() {
        for s in [
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.251",
            "::1",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(public_ip(&Value::from(s)).is_none(), "{s}");
        }
        for s in ["8.8.8.8", "81.2.69.142", "2001:480::1", "::ffff:8.8.8.8"] {
            assert!(public_ip(&Value::from(s)).is_some(), "{s}");
        }
        for s in ["", "-", "example.com", "1.2.3", "not an ip at all"] {
            assert!(public_ip(&Value::from(s)).is_none(), "{s}");
        }
        let list = Value::from(vec!["10.0.0.1", "fe80::2", "1.128.0.1"]);
        assert_eq!(public_ip(&list), Some("1.128.0.1".parse().unwrap()));
    }

    #[test]
    fn default_config_is_a_no_op() {
        let g = GeoIp::open(&EnrichConfig::default()).unwrap();
        assert!(!g.is_enabled());
        let mut e = Event::new();
        e.push("source.ip", "81.2.69.142");
        let before = e.clone();
        g.enrich(&mut e);
        assert_eq!(e, before);
    }
}
