//! Retro-hunts: when indicators arrive, look back through stored events for
//! earlier contact.
//!
//! [`plan`] turns indicators into event-store filters (store-agnostic
//! callers can read [`RetroQuery::filter`] and run it themselves);
//! [`hunt`] runs them against a [`taishi_store::Store`] over a window (30
//! days by default) and re-checks every candidate with a matcher built from
//! the new indicators, so store-side approximations (case-insensitive terms,
//! URL host wildcards) never produce a hit the live matcher would not.
//! Every hit it returns has `retrospective: true`.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use taishi_event::Event;
use taishi_store::{Filter, SearchRequest, Store, StoreError, TimeRange};

use crate::fields::{fields_for, DOMAIN_FIELDS, URL_FIELDS};
use crate::matcher::{IntelHit, Matcher};
use crate::model::{parse_ip_port, Indicator, IndicatorType};
use crate::url::url_host;
use crate::warninglist::Warninglists;

/// How far back a retro-hunt looks unless told otherwise.
pub const DEFAULT_WINDOW: Duration = Duration::days(30);

/// Indicators searched per store query.
const CHUNK: usize = 256;
/// Events fetched per page of results.
const PAGE: usize = 1000;

/// The store filter finding candidate events for one indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct RetroQuery {
    pub kind: IndicatorType,
    pub value: String,
    pub filter: Filter,
}

/// One query per searchable indicator (`Pattern` indicators have no
/// anchor value and are not searched).
pub fn plan(indicators: &[Indicator]) -> Vec<RetroQuery> {
    indicators
        .iter()
        .filter_map(|i| {
            filter_for(i).map(|filter| RetroQuery {
                kind: i.kind,
                value: i.value.clone(),
                filter,
            })
        })
        .collect()
}

fn or(fs: Vec<Filter>) -> Filter {
    if fs.len() == 1 {
        fs.into_iter().next().unwrap_or(Filter::All)
    } else {
        Filter::Or(fs)
    }
}

fn filter_for(i: &Indicator) -> Option<Filter> {
    let v = i.value.as_str();
    Some(match i.kind {
        IndicatorType::Pattern => return None,
        IndicatorType::Cidr => {
            let net: IpNet = v.parse().ok()?;
            or(fields_for(i.kind)
                .iter()
                .map(|f| Filter::cidr(f, net))
                .collect())
        }
        // Names and hex digests are written in any case by sensors (a DNS
        // query for EVIL.example, Sysmon's upper-case hashes); the store
        // keeps values as written, so these are looked for ignoring case.
        IndicatorType::Domain => or(DOMAIN_FIELDS
            .iter()
            .flat_map(|f| {
                [
                    Filter::wildcard_any_case(f, v),
                    Filter::wildcard_any_case(f, &format!("*.{v}")),
                ]
            })
            .collect()),
        IndicatorType::Url => {
            let host = url_host(v)?;
            let mut fs = vec![Filter::wildcard_any_case("url.domain", host)];
            fs.extend(
                URL_FIELDS
                    .iter()
                    .map(|f| Filter::wildcard_any_case(f, &format!("*{host}*"))),
            );
            or(fs)
        }
        IndicatorType::Md5
        | IndicatorType::Sha1
        | IndicatorType::Sha256
        | IndicatorType::Ja3
        | IndicatorType::Ja3s
            if v.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            or(fields_for(i.kind)
                .iter()
                .map(|f| Filter::wildcard_any_case(f, v))
                .collect())
        }
        IndicatorType::IpPort => {
            let (ip, port) = parse_ip_port(v)?;
            let (ip, port) = (ip.to_string(), port.to_string());
            or(["destination", "source"]
                .iter()
                .map(|side| {
                    Filter::And(vec![
                        Filter::term(&format!("{side}.ip"), &ip),
                        Filter::term(&format!("{side}.port"), &port),
                    ])
                })
                .collect())
        }
        _ => or(fields_for(i.kind)
            .iter()
            .map(|f| Filter::term(f, v))
            .collect()),
    })
}

/// What a retro-hunt found.
#[derive(Debug, Default)]
pub struct RetroResult {
    /// Each matching stored event with its (retrospective) hits, newest first.
    pub matches: Vec<(Event, Vec<IntelHit>)>,
    /// Store queries run.
    pub queries: usize,
    /// Candidate events the store returned (before re-checking).
    pub candidates: u64,
    /// Indicators that could not be searched (patterns without an anchor).
    pub unsearched: usize,
}

/// Searches `store` over `[now - window, now)` for events matching any of
/// `indicators`.
pub fn hunt(
    store: &Store,
    indicators: &[Indicator],
    warninglists: &Warninglists,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<RetroResult, StoreError> {
    let matcher = Matcher::from_indicators(indicators, warninglists.clone());
    let queries = plan(indicators);
    let mut res = RetroResult {
        unsearched: indicators.len() - queries.len(),
        ..Default::default()
    };
    let range = TimeRange::new(now - window, now);
    let mut seen: HashSet<u64> = HashSet::new();
    let mut hits = Vec::new();
    for chunk in queries.chunks(CHUNK) {
        let filter = or(chunk.iter().map(|q| q.filter.clone()).collect());
        res.queries += 1;
        let mut offset = 0;
        loop {
            let r = store.search(&SearchRequest {
                filter: filter.clone(),
                range,
                limit: PAGE,
                offset,
            })?;
            let n = r.hits.len();
            for h in r.hits {
                res.candidates += 1;
                if !seen.insert(h.seq) {
                    continue;
                }
                hits.clear();
                matcher.match_event(&h.event, &mut hits);
                if !hits.is_empty() {
                    let mut hs = std::mem::take(&mut hits);
                    for x in &mut hs {
                        x.retrospective = true;
                    }
                    res.matches.push((h.event, hs));
                }
            }
            offset += n;
            if n < PAGE || offset as u64 >= r.total {
                break;
            }
        }
    }
    res.matches
        .sort_by_key(|m| std::cmp::Reverse(m.0.timestamp));
    Ok(res)
}
