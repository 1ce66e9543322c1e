//! Precision and recall on a labelled corpus generated here: valid values (with
//! and without context words), wrong check digits and impossible dates, values
//! inside longer digit runs, and look-alikes (order numbers, timestamps,
//! phone-like serials, version strings). Requires ≥ 99 % precision on resident
//! IDs, credit codes and bank cards.

mod common;

use common::*;
use std::collections::BTreeMap;
use taishi_pii::{Kind, ScanConfig, Scanner};

/// One line of the corpus and the labelled spans in it.
struct Line {
    text: String,
    labels: Vec<(Kind, usize, usize)>,
}

impl Line {
    fn new() -> Line {
        Line {
            text: String::new(),
            labels: Vec::new(),
        }
    }
    fn lit(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    fn pi(&mut self, k: Kind, v: &str) -> &mut Self {
        let s = self.text.len();
        self.text.push_str(v);
        self.labels.push((k, s, self.text.len()));
        self
    }
}

fn corpus() -> Vec<Line> {
    let mut r = Rng(16);
    let mut lines = Vec::new();
    for i in 0..2400 {
        let mut l = Line::new();
        let ctx = i % 2 == 0;
        match i % 12 {
            0 => {
                l.lit(if ctx { "身份证号：" } else { "user " })
                    .pi(Kind::CnResidentId, &resident_id(&mut r))
                    .lit(" ok");
            }
            1 => {
                l.lit(if ctx {
                    "统一社会信用代码 "
                } else {
                    "org="
                })
                .pi(Kind::Uscc, &uscc(&mut r))
                .lit(";");
            }
            2 => {
                l.lit(if ctx { "{\"card_no\":\"" } else { "{\"v\":\"" })
                    .pi(Kind::BankCard, &card(&mut r))
                    .lit("\"}");
            }
            3 => {
                l.lit(if ctx { "手机 " } else { "to " })
                    .pi(Kind::CnMobile, &mobile(&mut r))
                    .lit(",");
            }
            4 => {
                let e = format!("user{}@example.com", r.below(10_000));
                l.lit("mail ").pi(Kind::Email, &e).lit(" sent");
            }
            5 => {
                l.lit("姓名：")
                    .pi(Kind::PersonName, &name(&mut r))
                    .lit("，地址：")
                    .pi(Kind::Address, &address(&mut r))
                    .lit("。");
            }
            6 => {
                let ip = format!(
                    "{}.{}.{}.{}",
                    1 + r.below(9),
                    r.below(256),
                    r.below(256),
                    1 + r.below(254)
                );
                l.lit("GET / from ").pi(Kind::Ipv4, &ip).lit(" 200");
            }
            7 => {
                let p = format!("E{}", r.digits(8));
                l.lit("护照号码 ").pi(Kind::Passport, &p).lit(" ");
                let plate = format!("粤B{}", r.digits(5));
                l.lit("车牌 ").pi(Kind::CnPlate, &plate);
            }
            // negatives: near misses and look-alikes
            8 => {
                l.lit(&format!(
                    "身份证 {} {} ",
                    resident_id_bad_check(&mut r),
                    resident_id_bad_date(&mut r)
                ));
                l.lit(&format!(
                    "x{}1 order {}{} ",
                    resident_id(&mut r),
                    2024_1206,
                    r.digits(10)
                ));
            }
            9 => {
                l.lit(&format!(
                    "信用代码 {} I{} ",
                    uscc_bad_check(&mut r),
                    &uscc(&mut r)[1..]
                ));
                l.lit(&format!(
                    "order_no={} trace {} ",
                    r.digits(18),
                    r.digits(18)
                ));
                // bare random numbers of card and ID lengths, no words around them
                l.lit(&format!(
                    "| {} | {} | {} |",
                    r.digits(18),
                    r.digits(16),
                    r.digits(19)
                ));
            }
            10 => {
                l.lit(&format!(
                    "卡号 {} {}99 ",
                    card_bad_luhn(&mut r),
                    card(&mut r)
                ));
                l.lit(&format!(
                    "ts={}{} serial 10{} 12{} ",
                    17_3346,
                    r.digits(7),
                    r.digits(9),
                    r.digits(9)
                ));
            }
            _ => {
                l.lit(&format!(
                    "v{}.{}.{} build {} id {}{} ",
                    r.below(9),
                    r.below(20),
                    r.below(99),
                    r.digits(8),
                    20_241_206,
                    r.digits(8)
                ));
                l.lit(&format!(
                    "amount 3.{} phone-like 9{} ",
                    r.digits(16),
                    mobile(&mut r)
                ));
            }
        }
        lines.push(l);
    }
    lines
}

#[test]
fn precision_and_recall() {
    let sc = Scanner::new(ScanConfig::default()).unwrap();
    // kind → (true positives, false positives, false negatives)
    let mut stats: BTreeMap<Kind, (u32, u32, u32)> = BTreeMap::new();
    for l in corpus() {
        let found = sc.scan(l.text.as_bytes()).findings;
        for f in &found {
            let hit = l
                .labels
                .iter()
                .any(|(k, s, e)| *k == f.kind && *s == f.start && *e == f.end);
            let st = stats.entry(f.kind).or_default();
            if hit {
                st.0 += 1;
            } else {
                st.1 += 1;
                eprintln!(
                    "false positive {}: {:?} in {:?}",
                    f.kind,
                    &l.text[f.start..f.end],
                    l.text
                );
            }
        }
        for (k, s, e) in &l.labels {
            if !found
                .iter()
                .any(|f| f.kind == *k && f.start == *s && f.end == *e)
            {
                stats.entry(*k).or_default().2 += 1;
                eprintln!("missed {k}: {:?} in {:?}", &l.text[*s..*e], l.text);
            }
        }
    }
    println!(
        "{:<16} {:>5} {:>5} {:>5} {:>9} {:>7}",
        "kind", "tp", "fp", "fn", "precision", "recall"
    );
    for (k, (tp, fp, fnn)) in &stats {
        let p = *tp as f64 / (*tp + *fp).max(1) as f64;
        let rc = *tp as f64 / (*tp + *fnn).max(1) as f64;
        println!(
            "{:<16} {tp:>5} {fp:>5} {fnn:>5} {:>8.1}% {:>6.1}%",
            k.code(),
            p * 100.0,
            rc * 100.0
        );
    }
    for k in [Kind::CnResidentId, Kind::Uscc, Kind::BankCard] {
        let (tp, fp, fnn) = stats.get(&k).copied().unwrap_or_default();
        assert!(tp > 0, "{k}: nothing found");
        let p = tp as f64 / (tp + fp) as f64;
        assert!(p >= 0.99, "{k}: precision {p:.3} < 0.99");
        let rc = tp as f64 / (tp + fnn) as f64;
        assert!(rc >= 0.95, "{k}: recall {rc:.3}");
    }
}
