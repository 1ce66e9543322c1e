//! Generators of valid and near-valid values for the tests and the benchmark.
#![allow(dead_code)]

use taishi_pii::{gb11643_check, gb32100_check, luhn_valid};

/// splitmix64: a small deterministic generator (tests must be repeatable).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| (b'0' + self.below(10) as u8) as char)
            .collect()
    }
}

/// Current county codes from several provinces.
pub const REGIONS: [&str; 10] = [
    "110101", "110105", "310104", "440305", "510107", "330106", "420111", "320102", "610113",
    "500103",
];

pub fn resident_id(r: &mut Rng) -> String {
    let y = 1940 + r.below(70);
    let m = 1 + r.below(12);
    let d = 1 + r.below(28);
    let body = format!("{}{y:04}{m:02}{d:02}{}", r.pick(&REGIONS), r.digits(3));
    let c = gb11643_check(body.as_bytes()).unwrap() as char;
    format!("{body}{c}")
}

/// A resident ID with every check passing except the check digit.
pub fn resident_id_bad_check(r: &mut Rng) -> String {
    let good = resident_id(r);
    let c = good.as_bytes()[17];
    let bad = if c == b'0' {
        '1'
    } else if c == b'X' {
        '3'
    } else {
        '0'
    };
    format!("{}{bad}", &good[..17])
}

/// Checksum right, date impossible (month 13).
pub fn resident_id_bad_date(r: &mut Rng) -> String {
    let body = format!(
        "{}1990{:02}{:02}{}",
        r.pick(&REGIONS),
        13,
        1 + r.below(28),
        r.digits(3)
    );
    let c = gb11643_check(body.as_bytes()).unwrap() as char;
    format!("{body}{c}")
}

const USCC_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

pub fn uscc(r: &mut Rng) -> String {
    let org: String = (0..9)
        .map(|i| {
            if i < 2 {
                *r.pick(b"MA") as char
            } else {
                *r.pick(USCC_ALPHABET) as char
            }
        })
        .collect();
    let body = format!("91{}{org}", r.pick(&REGIONS));
    let c = gb32100_check(body.as_bytes()).unwrap() as char;
    format!("{body}{c}")
}

pub fn uscc_bad_check(r: &mut Rng) -> String {
    let good = uscc(r);
    let c = good.as_bytes()[17];
    let bad = if c == b'0' { '1' } else { '0' };
    format!("{}{bad}", &good[..17])
}

pub fn luhn_complete(prefix: &str) -> String {
    (0..10)
        .map(|d| format!("{prefix}{d}"))
        .find(|s| luhn_valid(s.as_bytes()))
        .unwrap()
}

pub fn card(r: &mut Rng) -> String {
    let len = [16, 19][r.below(2) as usize];
    luhn_complete(&format!("62{}", r.digits(len - 3)))
}

pub fn card_bad_luhn(r: &mut Rng) -> String {
    let good = card(r);
    let last = good.as_bytes()[good.len() - 1];
    let bad = (b'0' + (last - b'0' + 1) % 10) as char;
    format!("{}{bad}", &good[..good.len() - 1])
}

pub fn mobile(r: &mut Rng) -> String {
    format!(
        "{}{}",
        r.pick(&["138", "139", "186", "150", "177", "199", "133", "188"]),
        r.digits(8)
    )
}

pub const SURNAMES: [&str; 8] = ["张", "王", "李", "赵", "陈", "刘", "欧阳", "杨"];
pub const GIVEN: [&str; 8] = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊"];

pub fn name(r: &mut Rng) -> String {
    format!(
        "{}{}{}",
        r.pick(&SURNAMES),
        r.pick(&GIVEN),
        if r.below(2) == 0 { *r.pick(&GIVEN) } else { "" }
    )
}

pub fn address(r: &mut Rng) -> String {
    let (p, c, d) = *r.pick(&[
        ("广东省", "深圳市", "南山区"),
        ("浙江省", "杭州市", "西湖区"),
        ("四川省", "成都市", "武侯区"),
    ]);
    format!(
        "{p}{c}{d}{}路{}号{}室",
        r.pick(&["科技", "人民", "中山", "建设"]),
        1 + r.below(300),
        100 + r.below(2000)
    )
}
