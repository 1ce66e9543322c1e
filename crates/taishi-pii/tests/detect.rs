//! Each detector on the examples it exists for, and on the look-alikes it must refuse.

use taishi_pii::{Finding, Kind, Lang, ScanConfig, Scanner};

fn scanner() -> Scanner {
    Scanner::new(ScanConfig {
        today: Some(20_261_206),
        ..ScanConfig::default()
    })
    .unwrap()
}

fn found(text: &str) -> Vec<(Kind, String)> {
    let s = scanner();
    s.scan(text.as_bytes())
        .findings
        .into_iter()
        .map(|f: Finding| (f.kind, text[f.start..f.end].to_string()))
        .collect()
}

fn kinds(text: &str) -> Vec<Kind> {
    found(text).into_iter().map(|f| f.0).collect()
}

#[test]
fn resident_ids() {
    assert_eq!(
        found("身份证号：11010119900307803X。"),
        vec![(Kind::CnResidentId, "11010119900307803X".into())]
    );
    assert_eq!(kinds("id=11010119900307803x"), vec![Kind::CnResidentId]);
    // wrong check digit, inside a longer digit run, glued to letters
    assert!(kinds(
        "11010119900307803Y 110101199003078031 911010119900307803X1 ab11010119900307803Xcd"
    )
    .is_empty());
    // born in the future, and province 00
    assert!(kinds("110101209912310015 000101199003078035").is_empty());
    let f = &scanner().scan(b"ID 11010119900307803X").findings[0];
    assert!(f.confidence > 0.9);
    assert!(f
        .reasons
        .iter()
        .any(|r| r.text(Lang::Zh).contains("东城区")));
    assert!(f
        .reasons
        .iter()
        .any(|r| r.text(Lang::En).contains("GB 11643")));
}

#[test]
fn credit_codes_and_mobiles() {
    assert_eq!(
        kinds("统一社会信用代码 91110101MA0000007T"),
        vec![Kind::Uscc]
    );
    assert!(kinds("91110101MA0000007U").is_empty());
    assert_eq!(
        found("手机：13800138000"),
        vec![(Kind::CnMobile, "13800138000".into())]
    );
    assert_eq!(
        found("tel +86 138 0013 8000."),
        vec![(Kind::CnMobile, "+86 138 0013 8000".into())]
    );
    assert_eq!(
        found("tel +86-13800138000"),
        vec![(Kind::CnMobile, "+86-13800138000".into())]
    );
    assert_eq!(
        found("tel 138-0013-8000"),
        vec![(Kind::CnMobile, "138-0013-8000".into())]
    );
    assert!(kinds("12345678901 15400000000 1380013800 213800138000 13800138000.5").is_empty());
}

#[test]
fn bank_cards() {
    assert_eq!(kinds("卡号 6200000000000005"), vec![Kind::BankCard]);
    assert_eq!(
        found("card 6222 0200 0000 0000 001"),
        Vec::<(Kind, String)>::new()
    ); // Luhn fails
    let ok = "6200 0000 0000 0005";
    assert_eq!(
        found(&format!("card {ok}")),
        vec![(Kind::BankCard, ok.into())]
    );
    assert!(kinds("6200000000000006 62000000000000051").is_empty());
    // Luhn alone (no known issuer, no context) is not enough.
    assert!(kinds("order 8000000000000003").is_empty());
    assert_eq!(kinds("银行卡号 8000000000000003"), vec![Kind::BankCard]);
}

#[test]
fn documents_plates_and_network() {
    assert_eq!(kinds("护照 E12345678"), vec![Kind::Passport]);
    assert_eq!(kinds("passport EA1234567"), vec![Kind::Passport]);
    assert_eq!(kinds("通行证 C12345678"), vec![Kind::HkMacaoPermit]);
    assert_eq!(kinds("台胞证号码 12345678"), vec![Kind::TaiwanPermit]);
    assert!(kinds("count 12345678 at 20240115").is_empty());
    assert_eq!(
        found("车牌京A12345"),
        vec![(Kind::CnPlate, "京A12345".into())]
    );
    assert_eq!(
        kinds("粤BD12345 沪A12345D 京A1234学"),
        vec![Kind::CnPlate; 3]
    );
    assert!(kinds("京AI2345 A12345").is_empty());
    assert_eq!(
        found("车辆 粤B·12345 违章"),
        vec![(Kind::CnPlate, "粤B·12345".into())]
    );
    assert_eq!(
        found("粤B·D12345"),
        vec![(Kind::CnPlate, "粤B·D12345".into())]
    );
    assert_eq!(
        found("mail zhang.san@example.com."),
        vec![(Kind::Email, "zhang.san@example.com".into())]
    );
    assert!(kinds("user@localhost a@b.c").is_empty());
    assert_eq!(found("from 203.0.113.77 to"), vec![]); // documentation range: low confidence
    assert_eq!(
        found("from 8.8.8.8:53 to"),
        vec![(Kind::Ipv4, "8.8.8.8".into())]
    );
    assert!(kinds("version 1.2.3.4.5 and 256.1.1.1").is_empty());
    assert_eq!(
        found("peer 2400:3200::1 ok"),
        vec![(Kind::Ipv6, "2400:3200::1".into())]
    );
    assert!(kinds("at 10:23:45 mac 00:1a:2b:3c:4d:5e").is_empty());
}

#[test]
fn secrets() {
    assert_eq!(
        kinds("aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
        vec![Kind::CloudAccessKey]
    );
    assert_eq!(
        kinds("key=LTAI5tAbCdEfGh123456"),
        vec![Kind::CloudAccessKey]
    );
    let gh = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
    assert_eq!(
        found(&format!("token {gh} end")),
        vec![(Kind::GithubToken, gh.into())]
    );
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_eq!(
        found(&format!("Authorization: Bearer {jwt}\n")),
        vec![(Kind::Jwt, jwt.into())]
    );
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
    assert_eq!(
        found(&format!("x\n{pem}\ny")),
        vec![(Kind::PrivateKey, pem.into())]
    );
    assert_eq!(
        found("postgres://app:s3cr3t@db.example.com/x"),
        vec![(Kind::UrlPassword, "s3cr3t".into())]
    );
    // a raw '@' inside the password: all of it is the finding
    assert_eq!(
        found("curl https://admin:P@ssw0rd!@10.0.0.5/api"),
        vec![(Kind::UrlPassword, "P@ssw0rd!".into())]
    );
    assert!(kinds("-----BEGIN CERTIFICATE----- ghp_short").is_empty());
}

#[test]
fn names_and_addresses() {
    assert_eq!(
        found("姓名：张三，性别：男"),
        vec![(Kind::PersonName, "张三".into())]
    );
    assert_eq!(
        found(r#"{"name":"欧阳娜娜"}"#),
        vec![(Kind::PersonName, "欧阳娜娜".into())]
    );
    assert_eq!(
        found("联系人王小明电话"),
        vec![(Kind::PersonName, "王小明".into())]
    );
    // no context: a surname-led word is not a name
    assert!(kinds("高危，方法，王府").is_empty());
    let addr = "广东省深圳市南山区科技园路1号";
    assert_eq!(
        found(&format!("地址：{addr}，")),
        vec![(Kind::Address, addr.into())]
    );
    assert!(kinds("北京市朝阳区").is_empty());
}

#[test]
fn context_from_a_field_name() {
    let s = scanner();
    assert!(s.scan(b"12345678").findings.is_empty());
    assert_eq!(
        s.scan_field("taiwan_permit_no", b"12345678").findings.len(),
        1
    );
    // a look-alike column lowers a card below the threshold, not a fully valid ID
    assert!(s
        .scan_field("order_no", b"6200000000000005")
        .findings
        .is_empty());
    assert_eq!(
        s.scan_field("order_no", b"11010119900307803X")
            .findings
            .len(),
        1
    );
    assert_eq!(s.scan(b"6200000000000005").findings.len(), 1);
}

#[test]
fn a_mobile_inside_an_email_is_both() {
    assert_eq!(
        kinds("13800138000@163.com"),
        vec![Kind::Email, Kind::CnMobile]
    );
}

#[test]
fn gbk_text_is_safe_and_gives_context() {
    let (gbk, _, _) = encoding_rs::GBK.encode("台胞证号码：");
    let mut input = gbk.into_owned();
    input.extend_from_slice(b"12345678 \xff\xfe\x80");
    assert_eq!(scanner().scan(&input).findings.len(), 1);
}
