//! The published vectors in `$TAISHI_TEST_DATA/pii-cn/pii_test_vectors.csv`
//! (see its SOURCES.md): each valid value is found with its kind and exact
//! span when written after its usual label, and no invalid one is.

use taishi_pii::{Kind, ScanConfig, Scanner};

/// The CSV's kind → the kinds that satisfy it and a label written before the value.
fn expect(kind: &str) -> Option<(&'static [Kind], &'static str)> {
    Some(match kind {
        "cn_resident_id" | "cn_resident_id_15" => (&[Kind::CnResidentId], "身份证号："),
        "cn_uscc" => (&[Kind::Uscc], "统一社会信用代码："),
        "cn_mobile" => (&[Kind::CnMobile], "手机："),
        "bank_card" => (&[Kind::BankCard], "卡号："),
        "cn_travel_doc" => (
            &[Kind::Passport, Kind::HkMacaoPermit, Kind::TaiwanPermit],
            "证件号：",
        ),
        "cn_plate" => (&[Kind::CnPlate], "车牌："),
        _ => return None,
    })
}

/// Splits one CSV line (fields may be double-quoted).
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

#[test]
fn published_vectors() {
    let Some(csv) = taishi_testdata::read("pii-cn/pii_test_vectors.csv") else {
        return;
    };
    // The vectors' fake birth dates are 1900-01-01; "the future" is judged against a fixed day.
    let sc = Scanner::new(ScanConfig {
        today: Some(20_261_206),
        ..ScanConfig::default()
    })
    .unwrap();
    let text = String::from_utf8(csv).unwrap();
    let (mut checked, mut failures) = (0, Vec::new());
    for (n, line) in text.lines().enumerate().skip(1) {
        let f = fields(line);
        let [kind, value, expected, note] = &f[..] else {
            panic!("pii_test_vectors.csv line {}: expected 4 fields", n + 1);
        };
        let (kinds, label) =
            expect(kind).unwrap_or_else(|| panic!("line {}: unknown kind {kind}", n + 1));
        let input = format!("{label}{value}。");
        let found = sc.scan(input.as_bytes()).findings;
        let exact = found
            .iter()
            .any(|x| kinds.contains(&x.kind) && &input[x.start..x.end] == value);
        let any = found.iter().any(|x| kinds.contains(&x.kind));
        let ok = if expected == "valid" { exact } else { !any };
        println!(
            "{:<5} {kind:<18} {value:<22} {expected:<8} {note}",
            if ok { "ok" } else { "FAIL" }
        );
        if !ok {
            failures.push(format!(
                "line {}: {kind} {value} expected {expected}: found {found:?}",
                n + 1
            ));
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} vectors");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
