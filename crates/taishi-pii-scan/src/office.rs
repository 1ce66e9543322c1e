//! Office documents and PDF: their text, then the same detectors.
//!
//! A docx is its paragraphs (body, headers, footers, notes, comments) as one
//! text location; an xlsx is one location per sheet and column, named by the
//! sheet and the column's header (its first row), as a CSV is; a PDF is the
//! text of its pages. XML is read as a stream (quick-xml expands no entity
//! but the five predefined ones and character references, so no "billion
//! laughs"), and each part within the archive limits of `files`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Read, Seek};

use quick_xml::events::Event as X;
use quick_xml::Reader;

use crate::files::{Budget, FileError, FileScanner};
use crate::Locations;

/// The character data of a text-carrying event, entity references resolved.
fn chars<'a>(ev: &'a X<'a>) -> Option<Cow<'a, str>> {
    match ev {
        X::Text(t) => Some(t.xml10_content()),
        X::CData(c) => Some(c.xml10_content()),
        X::GeneralRef(r) => {
            if r.is_char_ref() {
                return r
                    .resolve_char_ref()
                    .ok()
                    .flatten()
                    .map(|c| Cow::Owned(c.to_string()));
            }
            let s = match r.as_ref() {
                "amp" => "&",
                "lt" => "<",
                "gt" => ">",
                "quot" => "\"",
                "apos" => "'",
                _ => return None,
            };
            Some(Cow::Borrowed(s))
        }
        _ => None,
    }
}

/// A part of the archive by name, bounded like any entry (`None` when it is
/// missing or was refused).
fn part<R: Read + Seek>(
    s: &FileScanner,
    z: &mut zip::ZipArchive<R>,
    name: &str,
    budget: &mut Budget,
) -> Result<Option<Vec<u8>>, FileError> {
    match z.index_for_name(name) {
        Some(i) => Ok(s.entry(z, i, budget)?.map(|(_, d)| d)),
        None => Ok(None),
    }
}

/// The text of a WordprocessingML part: paragraphs end in newlines, tabs
/// and breaks become white space; text outside `w:t` (field codes) is left.
fn docx_text(xml: &[u8], out: &mut String) -> Result<(), FileError> {
    let mut r = Reader::from_reader(xml);
    let mut in_t = false;
    loop {
        let ev = r.read_event()?;
        match &ev {
            X::Start(e) if e.local_name().as_ref() == "t" => in_t = true,
            X::End(e) => match e.local_name().as_ref() {
                "t" => in_t = false,
                "p" => out.push('\n'),
                _ => {}
            },
            X::Empty(e) => match e.local_name().as_ref() {
                "tab" => out.push('\t'),
                "br" | "cr" => out.push('\n'),
                _ => {}
            },
            X::Eof => return Ok(()),
            _ if in_t => {
                if let Some(c) = chars(&ev) {
                    out.push_str(&c);
                }
            }
            _ => {}
        }
    }
}

pub(crate) fn docx<R: Read + Seek>(
    s: &FileScanner,
    z: &mut zip::ZipArchive<R>,
    base: &str,
    budget: &mut Budget,
    locs: &mut Locations,
) -> Result<(), FileError> {
    let mut names: Vec<String> = z
        .file_names()
        .filter_map(|n| n.ok().map(Cow::into_owned))
        .filter(|n| {
            n == "word/document.xml"
                || n == "word/footnotes.xml"
                || n == "word/endnotes.xml"
                || n == "word/comments.xml"
                || ((n.starts_with("word/header") || n.starts_with("word/footer"))
                    && n.ends_with(".xml"))
        })
        .collect();
    names.sort();
    let mut text = String::new();
    for n in &names {
        if let Some(xml) = part(s, z, n, budget)? {
            docx_text(&xml, &mut text)?;
            text.push('\n');
        }
    }
    s.text(&mut text.as_bytes(), base, locs)
}

/// `B12` → `B`.
fn column_of(cell_ref: &str) -> &str {
    let end = cell_ref
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(cell_ref.len());
    &cell_ref[..end]
}

/// The shared strings table: `<si>` items, their `<t>` runs joined.
fn shared_strings(xml: &[u8], max: usize) -> Result<Vec<String>, FileError> {
    let mut r = Reader::from_reader(xml);
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut in_t, mut in_ph) = (false, false);
    loop {
        let ev = r.read_event()?;
        match &ev {
            X::Start(e) => match e.local_name().as_ref() {
                "t" => in_t = true,
                // Phonetic guides repeat the text in kana: not the cell's value.
                "rPh" => in_ph = true,
                "si" => cur.clear(),
                _ => {}
            },
            X::End(e) => match e.local_name().as_ref() {
                "t" => in_t = false,
                "rPh" => in_ph = false,
                "si" => {
                    let keep = out.len() < max;
                    out.extend(keep.then(|| std::mem::take(&mut cur)));
                }
                _ => {}
            },
            X::Empty(e) if e.local_name().as_ref() == "si" => {
                let keep = out.len() < max;
                out.extend(keep.then(String::new));
            }
            X::Eof => return Ok(out),
            _ if in_t && !in_ph => {
                if let Some(c) = chars(&ev) {
                    cur.push_str(&c);
                }
            }
            _ => {}
        }
    }
}

/// The sheets in workbook order: (name, part path).
fn sheets(workbook: &[u8], rels: &[u8]) -> Result<Vec<(String, String)>, FileError> {
    let attr = |e: &quick_xml::events::BytesStart, key: &str| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.local_name().as_ref() == key)
            .and_then(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(Cow::into_owned)
            })
    };
    let mut targets = BTreeMap::new();
    let mut r = Reader::from_reader(rels);
    loop {
        match r.read_event()? {
            X::Start(e) | X::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                if let (Some(id), Some(t)) = (attr(&e, "Id"), attr(&e, "Target")) {
                    let path = match t.strip_prefix('/') {
                        Some(abs) => abs.to_string(),
                        None => format!("xl/{t}"),
                    };
                    targets.insert(id, path);
                }
            }
            X::Eof => break,
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut r = Reader::from_reader(workbook);
    loop {
        match r.read_event()? {
            X::Start(e) | X::Empty(e) if e.local_name().as_ref() == "sheet" => {
                let name = attr(&e, "name").unwrap_or_default();
                if let Some(p) = attr(&e, "id").and_then(|id| targets.get(&id)) {
                    out.push((name, p.clone()));
                }
            }
            X::Eof => return Ok(out),
            _ => {}
        }
    }
}

/// One worksheet, cell by cell: the first row's values name the columns,
/// and every later cell is scanned with its column's name as context.
fn sheet(
    s: &FileScanner,
    xml: &[u8],
    strings: &[String],
    base: &str,
    locs: &mut Locations,
) -> Result<(), FileError> {
    let mut r = Reader::from_reader(xml);
    let mut header: BTreeMap<String, String> = BTreeMap::new();
    let mut first_row: Option<String> = None;
    let mut row = String::new();
    let (mut col, mut typ) = (String::new(), String::new());
    let mut value = String::new();
    let mut in_value = false;
    let max_line = s.limits().max_line;
    loop {
        let ev = r.read_event()?;
        match &ev {
            X::Start(e) => match e.local_name().as_ref() {
                "row" => {
                    row = e
                        .try_get_attribute("r")
                        .ok()
                        .flatten()
                        .and_then(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .ok()
                                .map(Cow::into_owned)
                        })
                        .unwrap_or_default();
                    if first_row.is_none() {
                        first_row = Some(row.clone());
                    }
                }
                "c" => {
                    value.clear();
                    col.clear();
                    typ.clear();
                    for a in e.attributes().flatten() {
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map(Cow::into_owned)
                            .unwrap_or_default();
                        match a.key.local_name().as_ref() {
                            "r" => col = column_of(&v).to_string(),
                            "t" => typ = v,
                            _ => {}
                        }
                    }
                }
                "v" | "t" => in_value = true,
                _ => {}
            },
            X::End(e) => match e.local_name().as_ref() {
                "v" | "t" => in_value = false,
                "c" => {
                    let text = if typ == "s" {
                        value
                            .trim()
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| strings.get(i))
                            .cloned()
                            .unwrap_or_default()
                    } else {
                        std::mem::take(&mut value)
                    };
                    if first_row.as_deref() == Some(row.as_str()) {
                        header.insert(col.clone(), text);
                    } else if !text.is_empty() {
                        let name = header
                            .get(&col)
                            .filter(|h| !h.is_empty())
                            .cloned()
                            .unwrap_or_else(|| col.clone());
                        let cell = &text.as_bytes()[..text.len().min(max_line)];
                        s.detect()
                            .add(locs, &format!("{base}:{name}"), Some(&name), cell);
                    }
                }
                _ => {}
            },
            X::Eof => return Ok(()),
            _ if in_value => {
                if let Some(c) = chars(&ev) {
                    if value.len() < max_line {
                        value.push_str(&c);
                    }
                }
            }
            _ => {}
        }
    }
}

pub(crate) fn xlsx<R: Read + Seek>(
    s: &FileScanner,
    z: &mut zip::ZipArchive<R>,
    base: &str,
    budget: &mut Budget,
    locs: &mut Locations,
) -> Result<(), FileError> {
    let strings = match part(s, z, "xl/sharedStrings.xml", budget)? {
        Some(x) => shared_strings(&x, s.limits().max_entries.max(1) * 1000)?,
        None => Vec::new(),
    };
    let wb = part(s, z, "xl/workbook.xml", budget)?.unwrap_or_default();
    let rels = part(s, z, "xl/_rels/workbook.xml.rels", budget)?.unwrap_or_default();
    for (name, path) in sheets(&wb, &rels)? {
        if let Some(xml) = part(s, z, &path, budget)? {
            sheet(s, &xml, &strings, &format!("{base}:{name}"), locs)?;
        }
    }
    Ok(())
}

/// The text of a PDF's pages, each page's streams inflated at most to the
/// part limit. The reader is a large parser of hostile input: a panic in
/// it is caught and counted as an unreadable PDF rather than ending the
/// scan.
pub(crate) fn pdf(
    s: &FileScanner,
    data: &[u8],
    base: &str,
    locs: &mut Locations,
) -> Result<(), FileError> {
    let limit = s.limits().max_part as usize;
    let max_pages = s.limits().max_pdf_pages;
    let got = std::panic::catch_unwind(|| -> Result<String, lopdf::Error> {
        let doc = lopdf::Document::load_mem(data)?;
        let pages: Vec<u32> = doc.get_pages().keys().copied().take(max_pages).collect();
        let mut text = String::new();
        for p in pages {
            // A page whose text cannot be read does not hide the others.
            if let Ok(t) = doc.extract_text_with_limit(&[p], limit) {
                text.push_str(&t);
                text.push('\n');
            }
            if text.len() > limit {
                break;
            }
        }
        Ok(text)
    });
    match got {
        Ok(Ok(text)) => s.text(&mut text.as_bytes(), base, locs),
        Ok(Err(e)) => Err(FileError::Pdf(e)),
        Err(_) => {
            s.reject("pdf_unreadable");
            Ok(())
        }
    }
}
