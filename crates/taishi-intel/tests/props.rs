//! Property tests: parsers never panic on arbitrary input; URL
//! normalisation is idempotent; a printed comparison parses back.

use proptest::prelude::*;
use taishi_event::Event;
use taishi_intel::import::{self, Format};
use taishi_intel::pattern::{self, Literal};
use taishi_intel::url::{normalise_url, url_host};
use taishi_intel::{IndicatorType, Matcher, Warninglists};

proptest! {
    #[test]
    fn pattern_parser_never_panics(s in "\\PC{0,200}") {
        let _ = pattern::parse(&s);
    }

    #[test]
    fn pattern_parser_never_panics_on_near_patterns(
        s in "\\[[a-z-]{1,12}:[a-z_.'\\[\\]*]{1,20} (=|!=|IN|MATCHES|LIKE|ISSUBSET|NOT =) ('[^']{0,20}'|\\([^)]{0,30}\\)|[0-9]{1,5})( (AND|OR) [a-z-]{1,8}:[a-z]{1,8} = '[a-z.]{0,10}')?\\]( (OR|AND|FOLLOWEDBY) \\[a:b = 'c'\\])?( WITHIN [0-9] SECONDS)?"
    ) {
        let _ = pattern::parse(&s);
    }

    #[test]
    fn comparison_round_trips(
        value in "[^\\x00]{0,30}",
        path in "(domain-name:value|ipv4-addr:value|file:hashes[.]'SHA-256'|url:value|x509-certificate:serial_number)",
    ) {
        let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
        let p = format!("[{path} = '{escaped}']");
        let d = pattern::parse(&p).unwrap();
        prop_assert_eq!(d.len(), 1);
        prop_assert_eq!(&d[0][0].values[0], &Literal::Str(value.clone()));
        let again = pattern::parse(&format!("[{}]", d[0][0])).unwrap();
        prop_assert_eq!(again, d);
    }

    #[test]
    fn url_normalisation_is_idempotent(s in "(https?|HTTP|ftp)://[A-Za-z0-9.-]{1,20}(:[0-9]{1,5})?(/[A-Za-z0-9%._~/-]{0,30})?(\\?[a-z=&%0-9]{0,10})?(#[a-z]{0,5})?") {
        if let Some(n) = normalise_url(&s) {
            prop_assert_eq!(normalise_url(&n), Some(n.clone()));
            prop_assert!(url_host(&n).is_some());
        }
    }

    #[test]
    fn url_functions_never_panic(s in "\\PC{0,100}") {
        let _ = normalise_url(&s);
        let _ = url_host(&s);
        let _ = IndicatorType::guess(&s);
    }

    #[test]
    fn importers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        for f in [Format::Stix, Format::MispEvent, Format::Feodo, Format::Urlhaus, Format::ThreatFox, Format::MalwareBazaar, Format::Text] {
            let b = import::parse(&f, "fuzz", "s", &data);
            for e in b.errors {
                prop_assert!(!e.reason.is_empty());
            }
        }
        let _ = import::detect("x", &data);
    }

    #[test]
    fn matcher_finds_subdomains(label in "[a-z0-9]{1,10}", domain in "[a-z]{1,10}\\.(com|net|cn)") {
        let ind = taishi_intel::Indicator::parse(IndicatorType::Domain, &domain, "p").unwrap();
        let m = Matcher::from_indicators([&ind], Warninglists::default());
        let mut e = Event::new();
        e.push("dns.question.name", format!("{label}.{}", domain.to_uppercase()));
        let mut hits = Vec::new();
        m.match_event(&e, &mut hits);
        prop_assert_eq!(hits.len(), 1);
        let mut e = Event::new();
        e.push("dns.question.name", format!("{label}{domain}"));
        hits.clear();
        m.match_event(&e, &mut hits);
        prop_assert!(hits.is_empty() || label.is_empty());
    }
}
