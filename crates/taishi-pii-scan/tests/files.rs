//! Files the test writes itself: docx, xlsx, PDF, zip (nested, with a
//! docx inside, gzip around), and hostile ones — zip bombs, archives too
//! deep or too many, damaged bytes — which are refused and counted, never
//! read without bound and never a panic.

mod common;

use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use taishi_pii::Kind;
use taishi_pii_scan::{FileLimits, FileScanner, Locations};
use zip::write::SimpleFileOptions;

fn scanner(limits: FileLimits) -> FileScanner {
    FileScanner::new(detect(), limits, Arc::new(AtomicU64::new(0)))
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn docx(paragraphs: &[&str]) -> Vec<u8> {
    let mut body = String::new();
    for p in paragraphs {
        // Word splits text into runs at will: the number is cut in two.
        let (a, b) = p.split_at(p.len() / 2);
        let (a, b) = (xml_escape(a), xml_escape(b));
        body.push_str(&format!(
            "<w:p><w:r><w:t>{a}</w:t></w:r><w:r><w:t xml:space=\"preserve\">{b}</w:t></w:r></w:p>"
        ));
    }
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", doc.as_bytes()),
    ])
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

/// A workbook of one sheet `客户`: a header row, then rows of
/// (name, resident ID as a shared string, mobile as a number).
fn xlsx(rows: u32) -> Vec<u8> {
    let mut strings = vec![
        "姓名".to_string(),
        "证件号码".to_string(),
        "电话".to_string(),
    ];
    let mut sheet = String::from(
        "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>\
         <row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c><c r=\"C1\" t=\"s\"><v>2</v></c></row>",
    );
    for i in 0..rows {
        let r = i + 2;
        strings.push(resident_id(i));
        let sid = strings.len() - 1;
        sheet.push_str(&format!(
            "<row r=\"{r}\"><c r=\"A{r}\" t=\"inlineStr\"><is><t>客户{i}</t></is></c>\
             <c r=\"B{r}\" t=\"s\"><v>{sid}</v></c><c r=\"C{r}\"><v>{}</v></c></row>",
            mobile(i)
        ));
    }
    sheet.push_str("</sheetData></worksheet>");
    let sst: String = strings
        .iter()
        .map(|s| format!("<si><t>{s}</t></si>"))
        .collect();
    let sst = format!(
        "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">{sst}</sst>"
    );
    zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        (
            "xl/workbook.xml",
            b"<workbook xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets><sheet name=\"&#23458;&#25143;\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
        ),
        (
            "xl/_rels/workbook.xml.rels",
            b"<Relationships><Relationship Id=\"rId1\" Target=\"worksheets/sheet1.xml\"/></Relationships>",
        ),
        ("xl/sharedStrings.xml", sst.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ])
}

fn pdf(lines: &[&str]) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut ops = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 12.into()]),
        Operation::new("Td", vec![50.into(), 700.into()]),
    ];
    for l in lines {
        ops.push(Operation::new("Tj", vec![Object::string_literal(*l)]));
        ops.push(Operation::new("Td", vec![0.into(), (-20).into()]));
    }
    ops.push(Operation::new("ET", vec![]));
    let content = Content { operations: ops };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn scan_bytes(s: &FileScanner, name: &str, data: &[u8]) -> Locations {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, data).unwrap();
    s.file(&p).unwrap()
}

#[test]
fn docx_text_across_runs() {
    let id = resident_id(1);
    let phone = mobile(1);
    let text = format!("客户身份证号码：{id}，手机 {phone}，A&B 公司");
    let locs = scan_bytes(
        &scanner(FileLimits::default()),
        "合同.docx",
        &docx(&[&text]),
    );
    let l = at(&locs, "合同.docx");
    assert_eq!(count(l, Kind::CnResidentId), 1);
    assert_eq!(count(l, Kind::CnMobile), 1);
    assert_eq!(l.people().count, 1);
    no_raw(&locs, &[id, phone]);
}

#[test]
fn xlsx_per_sheet_and_column() {
    let locs = scan_bytes(&scanner(FileLimits::default()), "客户.xlsx", &xlsx(30));
    let ids = at(&locs, "客户.xlsx:客户:证件号码");
    assert_eq!(count(ids, Kind::CnResidentId), 30);
    assert_eq!(ids.people().count, 30);
    // Numbers stored as numbers are read as their digits.
    let phones = at(&locs, "客户.xlsx:客户:电话");
    assert_eq!(count(phones, Kind::CnMobile), 30);
    assert!(
        !locs.keys().any(|k| k.ends_with(":姓名"))
            || count(at(&locs, ":姓名"), Kind::CnResidentId) == 0
    );
    no_raw(&locs, &(0..30).map(resident_id).collect::<Vec<_>>());
}

#[test]
fn pdf_text() {
    let id = resident_id(2);
    let line = format!(
        "ID card {id} mobile {} mail zhang.san@example.cn",
        mobile(2)
    );
    let locs = scan_bytes(
        &scanner(FileLimits::default()),
        "report.pdf",
        &pdf(&[&line]),
    );
    let l = at(&locs, "report.pdf");
    assert_eq!(count(l, Kind::CnResidentId), 1, "{:?}", l.kinds);
    assert_eq!(count(l, Kind::Email), 1);
    no_raw(&locs, &[id]);
}

#[test]
fn zip_entries_nested_and_gzipped() {
    let csv = format!(
        "name,id_number\n张三,{}\n李四,{}\n",
        resident_id(3),
        resident_id(4)
    );
    let inner = zip_of(&[("inner/customers.csv", csv.as_bytes())]);
    let d = docx(&[&format!("身份证 {}", resident_id(5))]);
    let outer = zip_of(&[
        ("export/inner.zip", &inner),
        ("export/contract.docx", &d),
        ("readme.txt", b"nothing here"),
    ]);
    let s = scanner(FileLimits::default());
    let locs = scan_bytes(&s, "export.zip", &outer);
    let csv_loc = at(
        &locs,
        "export.zip!export/inner.zip!inner/customers.csv:id_number",
    );
    assert_eq!(count(csv_loc, Kind::CnResidentId), 2);
    assert_eq!(
        count(
            at(&locs, "export.zip!export/contract.docx"),
            Kind::CnResidentId
        ),
        1
    );
    // The same archive gzipped is the same findings.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&outer).unwrap();
    let locs = scan_bytes(&s, "export.zip.gz", &gz.finish().unwrap());
    assert_eq!(
        count(
            at(&locs, "inner/customers.csv:id_number"),
            Kind::CnResidentId
        ),
        2
    );
    assert!(s.rejects().is_empty(), "{:?}", s.rejects());
}

#[test]
fn zip_bomb_is_refused_and_counted() {
    // 64 MiB of zeros deflate to about 64 KiB: a ratio near 1000.
    let zeros = vec![b'0'; 64 << 20];
    let bomb = zip_of(&[
        ("a.txt", "身份证 11010119900307803X".as_bytes()),
        ("zeros.txt", &zeros),
    ]);
    assert!(bomb.len() < 1 << 20);
    let s = scanner(FileLimits::default());
    let locs = scan_bytes(&s, "bomb.zip", &bomb);
    assert!(
        locs.is_empty(),
        "nothing of a bomb is read: {:?}",
        locs.keys()
    );
    assert_eq!(s.rejects().get("archive_ratio"), Some(&1));
}

#[test]
fn archive_limits_entries_depth_total() {
    let id_text = format!("身份证 {}", resident_id(6));
    // Too many entries.
    let many: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("f{i}.txt"), id_text.clone().into_bytes()))
        .collect();
    let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
    let s = scanner(FileLimits {
        max_entries: 10,
        ..FileLimits::default()
    });
    assert!(scan_bytes(&s, "many.zip", &zip_of(&refs)).is_empty());
    assert_eq!(s.rejects().get("archive_entries"), Some(&1));
    // Too deep: five archives inside each other.
    let mut z = zip_of(&[("id.txt", id_text.as_bytes())]);
    for i in 0..5 {
        z = zip_of(&[(&format!("level{i}.zip"), &z)]);
    }
    let s = scanner(FileLimits::default());
    assert!(scan_bytes(&s, "deep.zip", &z).is_empty());
    assert_eq!(s.rejects().get("archive_depth"), Some(&1));
    // Over the file's budget of uncompressed bytes.
    let big = vec![b'x'; 4096];
    let s = scanner(FileLimits {
        max_total: 1000,
        ..FileLimits::default()
    });
    assert!(scan_bytes(&s, "big.zip", &zip_of(&[("big.txt", &big)])).is_empty());
    assert_eq!(s.rejects().get("archive_total"), Some(&1));
}

#[test]
fn damaged_archives_and_pdfs_are_errors_not_panics() {
    let s = scanner(FileLimits::default());
    let dir = tempfile::tempdir().unwrap();
    let mut z = docx(&["身份证 11010119900307803X"]);
    z.truncate(z.len() / 2);
    let p = dir.path().join("cut.docx");
    std::fs::write(&p, &z).unwrap();
    let e = s.file(&p).unwrap_err();
    // A damaged file stays damaged: not worth a retry.
    assert_eq!(
        taishi_event::Kinded::kind(&e),
        taishi_event::ErrorKind::Rejected,
        "{e}"
    );
    let p = dir.path().join("cut.pdf");
    let mut d = pdf(&["x"]);
    d.truncate(40);
    std::fs::write(&p, &d).unwrap();
    if let Err(e) = s.file(&p) {
        assert_eq!(
            taishi_event::Kinded::kind(&e),
            taishi_event::ErrorKind::Rejected,
            "{e}"
        );
    }
    // A path that names no file: the request's fault.
    let e = s.file(&dir.path().join("absent.txt")).unwrap_err();
    assert_eq!(
        taishi_event::Kinded::kind(&e),
        taishi_event::ErrorKind::Rejected,
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary bytes behind a zip or PDF signature, and a real docx with
    /// bytes flipped: an error or findings, never a panic.
    #[test]
    fn hostile_containers_do_not_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..4096),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
    ) {
        let s = scanner(FileLimits { max_total: 1 << 20, ..FileLimits::default() });
        let dir = tempfile::tempdir().unwrap();
        for (name, head) in [("a.zip", &b"PK\x03\x04"[..]), ("a.pdf", b"%PDF-1.5\n")] {
            let p = dir.path().join(name);
            std::fs::write(&p, [head, &tail].concat()).unwrap();
            let _ = s.file(&p);
        }
        let mut d = xlsx(3);
        for (i, b) in &flips {
            let n = d.len();
            d[i % n] ^= b;
        }
        let p = dir.path().join("f.xlsx");
        std::fs::write(&p, &d).unwrap();
        let _ = s.file(&p);
    }
}
