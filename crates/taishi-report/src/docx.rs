//! DOCX: the smallest WordprocessingML package Word, WPS and LibreOffice
//! open without complaint — content types, relationships, the document,
//! its styles (body 宋体 / Times New Roman 10.5 pt, headings 黑体 / Arial)
//! and a footer with the page number field. Lists are written as numbered
//! or bulleted paragraphs (no numbering part: fewer ways to go wrong).

use std::io::Write;

use zip::write::SimpleFileOptions;

use crate::{clean, columns, Block, Document, Limits, RenderError};

/// Table width: A4 less 2 × 2.54 cm margins, in twentieths of a point.
const TEXT_WIDTH: u32 = 9026;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in clean(s) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Runs of `text`, `\n` as a line break inside the paragraph.
fn runs(text: &str, bold: bool) -> String {
    let rpr = if bold { "<w:rPr><w:b/></w:rPr>" } else { "" };
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<w:r><w:br/></w:r>");
        }
        out.push_str(&format!(
            "<w:r>{rpr}<w:t xml:space=\"preserve\">{}</w:t></w:r>",
            esc(line)
        ));
    }
    out
}

fn para(style: Option<&str>, text: &str, bold: bool) -> String {
    let ppr = style
        .map(|s| format!("<w:pPr><w:pStyle w:val=\"{s}\"/></w:pPr>"))
        .unwrap_or_default();
    format!("<w:p>{ppr}{}</w:p>", runs(text, bold))
}

fn table(widths: &[u32], header: Option<&[String]>, rows: &[Vec<String>], key_col: bool) -> String {
    let mut x = String::from(
        "<w:tbl><w:tblPr><w:tblStyle w:val=\"TableGrid\"/><w:tblW w:w=\"0\" w:type=\"auto\"/><w:tblLayout w:type=\"fixed\"/></w:tblPr><w:tblGrid>",
    );
    for w in widths {
        x.push_str(&format!("<w:gridCol w:w=\"{w}\"/>"));
    }
    x.push_str("</w:tblGrid>");
    let row = |x: &mut String, cells: &[String], head: bool| {
        x.push_str("<w:tr>");
        if head {
            x.push_str("<w:trPr><w:tblHeader/></w:trPr>");
        }
        for (i, w) in widths.iter().enumerate() {
            let text = cells.get(i).map(String::as_str).unwrap_or("");
            let shade = if head || (key_col && i == 0) {
                "<w:shd w:val=\"clear\" w:color=\"auto\" w:fill=\"EDEDED\"/>"
            } else {
                ""
            };
            x.push_str(&format!(
                "<w:tc><w:tcPr><w:tcW w:w=\"{w}\" w:type=\"dxa\"/>{shade}</w:tcPr>{}</w:tc>",
                para(None, text, head || (key_col && i == 0))
            ));
        }
        x.push_str("</w:tr>");
    };
    if let Some(h) = header {
        row(&mut x, h, true);
    }
    for r in rows {
        row(&mut x, r, false);
    }
    x.push_str("</w:tbl>");
    // Word merges two adjacent tables; an empty paragraph keeps them apart.
    x.push_str("<w:p/>");
    x
}

fn body(doc: &Document) -> String {
    let mut x = para(Some("Title"), &doc.title, false);
    if let Some(s) = &doc.subtitle {
        x.push_str(&para(Some("Subtitle"), s, false));
    }
    for b in &doc.blocks {
        match b {
            Block::Heading { level, text } => x.push_str(&para(
                Some(&format!("Heading{}", level.clamp(&1, &2))),
                text,
                false,
            )),
            Block::Paragraph(t) => x.push_str(&para(None, t, false)),
            Block::KeyValue(kv) => {
                let rows: Vec<Vec<String>> =
                    kv.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect();
                let k = TEXT_WIDTH * 3 / 10;
                x.push_str(&table(&[k, TEXT_WIDTH - k], None, &rows, true));
            }
            Block::Table { header, rows } => {
                let cols = columns(header, rows).max(1);
                let w = TEXT_WIDTH / cols as u32;
                let head = (!header.is_empty()).then_some(header.as_slice());
                x.push_str(&table(&vec![w; cols], head, rows, false));
            }
            Block::List { ordered, items } => {
                for (i, it) in items.iter().enumerate() {
                    let mark = if *ordered {
                        format!("{}. ", i + 1)
                    } else {
                        "• ".to_string()
                    };
                    x.push_str(&para(Some("ListParagraph"), &format!("{mark}{it}"), false));
                }
            }
        }
    }
    x
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/word/footer1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>"#;

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#;

const DOC_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="footer1.xml"/></Relationships>"#;

const W: &str = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"";

/// Body 宋体 (SimSun) 10.5 pt (五号); headings and the title 黑体 (SimHei).
/// `w:hint="eastAsia"` makes Word pick the East-Asian font for shared
/// punctuation too.
fn styles() -> String {
    let heading = |id: &str, name: &str, size: u32, level: Option<u8>, center: bool| {
        let outline = level
            .map(|l| format!("<w:outlineLvl w:val=\"{l}\"/>"))
            .unwrap_or_default();
        let jc = if center {
            "<w:jc w:val=\"center\"/>"
        } else {
            ""
        };
        format!(
            "<w:style w:type=\"paragraph\" w:styleId=\"{id}\"><w:name w:val=\"{name}\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before=\"240\" w:after=\"120\"/>{jc}{outline}</w:pPr><w:rPr><w:rFonts w:ascii=\"Arial\" w:hAnsi=\"Arial\" w:eastAsia=\"黑体\" w:hint=\"eastAsia\"/><w:b/><w:sz w:val=\"{size}\"/><w:szCs w:val=\"{size}\"/></w:rPr></w:style>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:styles {W}><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii=\"Times New Roman\" w:hAnsi=\"Times New Roman\" w:eastAsia=\"宋体\" w:cs=\"Times New Roman\" w:hint=\"eastAsia\"/><w:sz w:val=\"21\"/><w:szCs w:val=\"21\"/><w:lang w:val=\"en-US\" w:eastAsia=\"zh-CN\"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after=\"80\" w:line=\"360\" w:lineRule=\"auto\"/></w:pPr></w:pPrDefault></w:docDefaults><w:style w:type=\"paragraph\" w:default=\"1\" w:styleId=\"Normal\"><w:name w:val=\"Normal\"/><w:qFormat/></w:style>{}{}{}{}<w:style w:type=\"paragraph\" w:styleId=\"ListParagraph\"><w:name w:val=\"List Paragraph\"/><w:basedOn w:val=\"Normal\"/><w:pPr><w:ind w:left=\"420\"/></w:pPr></w:style><w:style w:type=\"table\" w:styleId=\"TableGrid\"><w:name w:val=\"Table Grid\"/><w:tblPr><w:tblBorders><w:top w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/><w:left w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/><w:bottom w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/><w:right w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/><w:insideH w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/><w:insideV w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"000000\"/></w:tblBorders><w:tblCellMar><w:left w:w=\"108\" w:type=\"dxa\"/><w:right w:w=\"108\" w:type=\"dxa\"/></w:tblCellMar></w:tblPr></w:style><w:style w:type=\"paragraph\" w:styleId=\"Footer\"><w:name w:val=\"footer\"/><w:basedOn w:val=\"Normal\"/><w:pPr><w:jc w:val=\"center\"/></w:pPr><w:rPr><w:sz w:val=\"18\"/></w:rPr></w:style></w:styles>",
        heading("Title", "Title", 36, None, true),
        heading("Subtitle", "Subtitle", 24, None, true),
        heading("Heading1", "heading 1", 30, Some(0), false),
        heading("Heading2", "heading 2", 24, Some(1), false),
    )
}

/// "<footer> 第 {PAGE} 页 / Page {PAGE}" (the field Word fills in).
fn footer(doc: &Document) -> String {
    let field = "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText xml:space=\"preserve\"> PAGE </w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>1</w:t></w:r><w:r><w:fldChar w:fldCharType=\"end\"/></w:r>";
    let lead = doc
        .footer
        .as_deref()
        .map(|f| format!("{f}  "))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:ftr {W}><w:p><w:pPr><w:pStyle w:val=\"Footer\"/></w:pPr>{}{field}{}</w:p></w:ftr>",
        runs(&format!("{lead}第 "), false),
        runs(" 页", false),
    )
}

fn core(doc: &Document) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>{}</dc:title><dc:creator>Taishi</dc:creator></cp:coreProperties>",
        esc(&doc.title)
    )
}

/// The document as a DOCX file.
pub fn render(doc: &Document, limits: &Limits) -> Result<Vec<u8>, RenderError> {
    doc.check(limits)?;
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document {W}><w:body>{}<w:sectPr><w:footerReference w:type=\"default\" r:id=\"rId2\"/><w:pgSz w:w=\"11906\" w:h=\"16838\"/><w:pgMar w:top=\"1440\" w:right=\"1440\" w:bottom=\"1440\" w:left=\"1440\" w:header=\"851\" w:footer=\"992\" w:gutter=\"0\"/></w:sectPr></w:body></w:document>",
        body(doc)
    );
    let parts: [(&str, String); 7] = [
        ("[Content_Types].xml", CONTENT_TYPES.to_string()),
        ("_rels/.rels", RELS.to_string()),
        ("word/_rels/document.xml.rels", DOC_RELS.to_string()),
        ("word/document.xml", document),
        ("word/styles.xml", styles()),
        ("word/footer1.xml", footer(doc)),
        ("docProps/core.xml", core(doc)),
    ];
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let zerr = |e: &dyn std::fmt::Display| RenderError::Zip(e.to_string());
    for (name, text) in parts {
        z.start_file(name, opts).map_err(|e| zerr(&e))?;
        z.write_all(text.as_bytes()).map_err(|e| zerr(&e))?;
    }
    let out = z.finish().map_err(|e| zerr(&e))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn part(docx: &[u8], name: &str) -> String {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(docx)).unwrap();
        let mut s = String::new();
        z.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    }

    fn sample() -> Document {
        let mut d = Document::new("网络安全事件报告 <A&B>");
        d.subtitle = Some("甲单位".into());
        d.heading(1, "一、事发单位")
            .paragraph("第一行\n第二行\u{1}")
            .key_value(vec![("单位名称".into(), "甲单位".into())])
            .table(
                vec!["主机".into(), "IP".into()],
                vec![vec!["ws01".into(), "10.0.0.1".into()]],
            )
            .list(true, vec!["隔离主机".into()]);
        d
    }

    #[test]
    fn the_package_holds_the_text_escaped_and_declares_east_asian_fonts() {
        let b = render(&sample(), &Limits::default()).unwrap();
        let doc = part(&b, "word/document.xml");
        assert!(doc.contains("网络安全事件报告 &lt;A&amp;B&gt;"));
        assert!(doc.contains("一、事发单位"));
        assert!(doc.contains("第一行</w:t></w:r><w:r><w:br/></w:r>"));
        assert!(!doc.contains('\u{1}'));
        assert!(doc.contains("1. 隔离主机"));
        assert!(doc.contains("10.0.0.1"));
        let styles = part(&b, "word/styles.xml");
        assert!(styles.contains("w:eastAsia=\"宋体\""));
        assert!(styles.contains("w:eastAsia=\"黑体\""));
        assert!(part(&b, "word/footer1.xml").contains(" PAGE "));
        part(&b, "[Content_Types].xml");
    }

    proptest::proptest! {
        #[test]
        fn any_text_makes_a_package(s in "\\PC{0,200}", t in proptest::collection::vec(".{0,20}", 0..5)) {
            let mut d = Document::new(s.clone());
            d.paragraph(s).table(t.clone(), vec![t]);
            let b = render(&d, &Limits::default()).unwrap();
            let doc = part(&b, "word/document.xml");
            proptest::prop_assert!(doc.starts_with("<?xml"));
        }
    }
}
