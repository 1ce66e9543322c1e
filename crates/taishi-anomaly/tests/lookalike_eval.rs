//! Look-alike matching on real phishing domains (lookalike/phishing, with
//! the heuristic brand labels of brand_impersonation_heuristic_labels.csv)
//! and false matches on the Majestic top 15k.

use std::collections::BTreeMap;

use taishi_anomaly::{Brand, LookalikeConfig, LookalikeWatch, Method};

/// The brands of the labels file and their real domains.
const BRANDS: &[(&str, &[&str])] = &[
    ("okta", &["okta.com"]),
    (
        "microsoft",
        &["microsoft.com", "microsoftonline.com", "office.com"],
    ),
    ("amazon", &["amazon.com"]),
    ("google", &["google.com"]),
    ("gosuslugi", &["gosuslugi.ru"]),
    ("apple", &["apple.com", "icloud.com"]),
    ("att", &["att.com"]),
    ("t-mobile", &["t-mobile.com"]),
    ("yahoo", &["yahoo.com"]),
    ("coinbase", &["coinbase.com"]),
    ("twilio", &["twilio.com"]),
    ("paypal", &["paypal.com"]),
    ("dofus", &["dofus.com"]),
    ("binance", &["binance.com"]),
    ("mailchimp", &["mailchimp.com"]),
    ("qantas", &["qantas.com"]),
    ("fedex", &["fedex.com"]),
    ("facebook", &["facebook.com"]),
    ("discord", &["discord.com"]),
    ("roblox", &["roblox.com"]),
    ("dropbox", &["dropbox.com"]),
    ("verizon", &["verizon.com"]),
    ("linkedin", &["linkedin.com"]),
    ("kraken", &["kraken.com"]),
    ("cloudflare", &["cloudflare.com"]),
    ("bitflyer", &["bitflyer.com"]),
    ("wasabiwallet", &["wasabiwallet.io"]),
    ("instagram", &["instagram.com"]),
    ("docusign", &["docusign.com"]),
    ("citrix", &["citrix.com"]),
    ("bankofamerica", &["bankofamerica.com"]),
    ("avito", &["avito.ru"]),
    ("steam", &["steampowered.com", "steamcommunity.com"]),
    ("salesforce", &["salesforce.com"]),
    ("olx", &["olx.ua"]),
    ("kufar", &["kufar.by"]),
    ("dhl", &["dhl.com"]),
    ("correos", &["correos.es"]),
    ("cdek", &["cdek.ru"]),
];

fn product_words(brand: &str) -> &'static [&'static str] {
    match brand {
        "microsoft" => &["outlook", "office365", "sharepoint", "msft"],
        "google" => &["gmail"],
        _ => &[],
    }
}

fn watch() -> LookalikeWatch {
    let brands = BRANDS
        .iter()
        .map(|(name, domains)| Brand {
            name: name.to_string(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            names_zh: Vec::new(),
            // the brand's own word, where it differs from its domain label,
            // and product names an operator would list
            keywords: std::iter::once(name.to_string())
                .chain(product_words(name).iter().map(|w| w.to_string()))
                .collect(),
        })
        .collect();
    LookalikeWatch::new(LookalikeConfig {
        brands,
        ..LookalikeConfig::default()
    })
    .unwrap()
}

#[test]
fn phishing_names_match_their_brand_and_popular_names_mostly_do_not() {
    let Some(labels) =
        taishi_testdata::path("lookalike/phishing/brand_impersonation_heuristic_labels.csv")
    else {
        return;
    };
    let Some(majestic) =
        taishi_testdata::path("network/anomaly/benign/majestic_million_top15000.csv")
    else {
        return;
    };
    let w = watch();
    eprintln!(
        "{} brands, {} generated variants",
        BRANDS.len(),
        w.variants_len()
    );
    let text = std::fs::read_to_string(&labels).unwrap();
    let mut per_kind: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new(); // right brand, other brand, none
    let mut methods: BTreeMap<String, u32> = BTreeMap::new();
    let mut misses = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 3 || f[1] == "brand" {
            continue;
        }
        let kind = f[2].split('(').next().unwrap_or("").to_string();
        let e = per_kind.entry(kind).or_default();
        match w.check(f[0]) {
            Some(m) if m.brand == f[1] => {
                e.0 += 1;
                *methods.entry(format!("{:?}", m.method)).or_default() += 1;
            }
            Some(_) => e.1 += 1,
            None => {
                e.2 += 1;
                misses.push(f[0].to_string());
            }
        }
    }
    let (mut right, mut all) = (0, 0);
    for (k, (r, o, n)) in &per_kind {
        eprintln!("  {k:12} right brand {r:4}  other brand {o:3}  no match {n:3}");
        right += r;
        all += r + o + n;
    }
    let recall = right as f64 / all as f64;
    eprintln!(
        "recall (right brand) {recall:.3} of {all}; methods {methods:?}; some misses {:?}",
        &misses[..misses.len().min(30)]
    );

    let text = std::fs::read_to_string(&majestic).unwrap();
    let (mut n, mut hits) = (0, Vec::new());
    for line in text.lines().skip(1) {
        let Some(d) = line.split(',').nth(2) else {
            continue;
        };
        n += 1;
        if let Some(m) = w.check(d) {
            hits.push(format!("{d}={}:{:?}", m.brand, m.method));
        }
    }
    let fpr = hits.len() as f64 / n as f64;
    // Most of these are the brands' own other domains (google.de,
    // amazonaws.com): an operator lists those as its own. Count apart the
    // ones that do not carry the brand as a token.
    let fuzzy: Vec<&String> = hits
        .iter()
        .filter(|h| {
            !h.ends_with(":Keyword") && !h.ends_with(":TldSwap") && !h.ends_with(":Dictionary")
        })
        .collect();
    eprintln!(
        "  of which not carrying the brand word: {} ({:.2}%): {:?}",
        fuzzy.len(),
        fuzzy.len() as f64 * 100.0 / n as f64,
        &fuzzy[..fuzzy.len().min(20)]
    );
    eprintln!(
        "Majestic top {n}: {} matched ({:.2}%), e.g. {:?}",
        hits.len(),
        fpr * 100.0,
        &hits[..hits.len().min(15)]
    );
    assert!(recall >= 0.9, "recall {recall}");
    assert!(fpr < 0.03, "false matches {fpr}");
}

#[test]
fn punycode_homograph_of_the_0ktapus_list() {
    // xn--ota-7ua.com is oķta.com in the 0ktapus trail
    let m = watch().check("xn--ota-7ua.com").expect("matched");
    assert_eq!(m.brand, "okta");
    assert!(
        matches!(
            m.method,
            Method::Homoglyph | Method::Confusable | Method::EditDistance
        ),
        "{m:?}"
    );
}
