//! PDF: A4 pages set in one CJK font (see [`crate::font`]).
//!
//! Method: each character is mapped through the font's cmap to a glyph and
//! measured by its advance (no shaping: Chinese and the Latin text of a
//! report need none). Lines are broken greedily: between any two Chinese
//! characters, after a space, never before closing punctuation (，。）
//! nor after opening punctuation (（《) — the basic line-breaking rules of
//! Chinese typesetting — and inside a word only when it alone is wider
//! than the line. Blocks that do not fit go to the next page; a table row
//! taller than a page is cut between lines. Every page gets a footer with
//! its number and the page count.
//!
//! The glyphs used are subset out of the font (`subsetter`, as typst does)
//! and embedded as a CID-keyed font with Identity-H encoding: CFF fonts
//! (Noto CJK) as FontFile3/OpenType, TrueType ones (WenQuanYi, Droid) as
//! FontFile2. A ToUnicode map pairs each glyph with its character, so the
//! text is searchable and can be copied and extracted.

use std::collections::BTreeMap;
use std::io::Write;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, TextRenderingMode};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use subsetter::GlyphRemapper;

use crate::{clean, columns, Block, Document, Font, FontError, Limits, RenderError};

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 62.0;
const TOP: f32 = PAGE_H - 64.0;
const BOTTOM: f32 = 72.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
const BODY: f32 = 10.5;
const LEADING: f32 = 1.55;
const PAD: f32 = 4.0;
const FONT: Name<'static> = Name(b"F1");

/// Characters a line does not start with.
fn closing(c: char) -> bool {
    "，。、；：！？）》」』】〕〉”’…—%,.;:!?)]}·".contains(c)
}

/// Characters a line does not end with.
fn opening(c: char) -> bool {
    "（《「『【〔〈“‘([{".contains(c)
}

fn wide(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

fn break_before(prev: char, cur: char) -> bool {
    if closing(cur) || opening(prev) {
        return false;
    }
    prev == ' ' || wide(cur) || wide(prev)
}

/// Glyphs, their widths and the characters they stand for.
struct Glyphs<'f> {
    face: ttf_parser::Face<'f>,
    upm: f32,
    remap: GlyphRemapper,
    /// New glyph id → the character (for ToUnicode).
    chars: BTreeMap<u16, char>,
}

impl Glyphs<'_> {
    fn old(&self, c: char) -> u16 {
        self.face.glyph_index(c).map(|g| g.0).unwrap_or(0)
    }

    /// Advance of `c` in thousandths of the font size.
    fn advance(&self, c: char) -> f32 {
        let g = ttf_parser::GlyphId(self.old(c));
        self.face.glyph_hor_advance(g).unwrap_or(0) as f32 * 1000.0 / self.upm
    }

    fn width(&self, s: &[char], size: f32) -> f32 {
        s.iter().map(|c| self.advance(*c)).sum::<f32>() * size / 1000.0
    }

    /// `s` as 2-byte CIDs of the subset (remapping as it goes).
    fn encode(&mut self, s: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len() * 2);
        for c in s.chars() {
            let old = self.old(c);
            let new = self.remap.remap(old);
            if old != 0 {
                self.chars.entry(new).or_insert(c);
            }
            out.extend_from_slice(&new.to_be_bytes());
        }
        out
    }

    /// `text` broken into lines no wider than `max` at `size`.
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let chars: Vec<char> = clean(para)
                .map(|c| if c == '\t' { ' ' } else { c })
                .collect();
            if chars.is_empty() {
                lines.push(String::new());
                continue;
            }
            let n = chars.len();
            let mut start = 0;
            while start < n {
                let mut w = 0.0;
                let mut last_break = None;
                let mut j = start;
                while j < n {
                    let cw = self.advance(chars[j]) * size / 1000.0;
                    if j > start && break_before(chars[j - 1], chars[j]) {
                        last_break = Some(j);
                    }
                    if j > start && w + cw > max {
                        break;
                    }
                    w += cw;
                    j += 1;
                }
                let mut end = match (j < n, last_break) {
                    (false, _) => n,
                    (true, Some(b)) => b,
                    (true, None) => j,
                };
                // A closing mark hangs at the end of the line rather than
                // starting the next.
                while end < n && end > start && closing(chars[end]) && last_break.is_none() {
                    end += 1;
                }
                let line: String = chars[start..end].iter().collect();
                lines.push(line.trim_end().to_string());
                start = end;
                while start < n && chars[start] == ' ' {
                    start += 1;
                }
            }
        }
        lines
    }
}

struct Layout<'f> {
    g: Glyphs<'f>,
    pages: Vec<Content>,
    page: Content,
    y: f32,
    max_pages: usize,
}

impl Layout<'_> {
    fn new_page(&mut self) -> Result<(), RenderError> {
        if self.pages.len() + 1 >= self.max_pages {
            return Err(RenderError::TooLarge {
                what: "pages",
                limit: self.max_pages,
            });
        }
        let done = std::mem::replace(&mut self.page, Content::new());
        self.pages.push(done);
        self.y = TOP;
        Ok(())
    }

    fn fresh(&self) -> bool {
        self.y >= TOP - 0.01
    }

    /// Makes room for `h` points (a new page when they do not fit).
    fn need(&mut self, h: f32) -> Result<(), RenderError> {
        if self.y - h < BOTTOM && !self.fresh() {
            self.new_page()?;
        }
        Ok(())
    }

    fn text_at(&mut self, x: f32, baseline: f32, s: &str, size: f32, bold: bool) {
        let bytes = self.g.encode(s);
        let p = &mut self.page;
        p.begin_text();
        if bold {
            // One font only: bold is the glyph stroked as well as filled.
            p.set_text_rendering_mode(TextRenderingMode::FillStroke)
                .set_line_width(size * 0.035);
        }
        p.set_font(FONT, size)
            .next_line(x, baseline)
            .show(Str(&bytes));
        if bold {
            p.set_text_rendering_mode(TextRenderingMode::Fill);
        }
        p.end_text();
    }

    /// Lines of text from `x`, `width` wide; `center` centres each line.
    fn lines(
        &mut self,
        text: &str,
        x: f32,
        width: f32,
        size: f32,
        bold: bool,
        center: bool,
    ) -> Result<(), RenderError> {
        let lh = size * LEADING;
        for line in self.g.wrap(text, size, width) {
            self.need(lh)?;
            let chars: Vec<char> = line.chars().collect();
            let dx = if center {
                ((width - self.g.width(&chars, size)) / 2.0).max(0.0)
            } else {
                0.0
            };
            let baseline = self.y - lh + (lh - size) / 2.0 + size * 0.12;
            self.text_at(x + dx, baseline, &line, size, bold);
            self.y -= lh;
        }
        Ok(())
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    /// A table: `widths` of its columns; `shaded(row, col)` for header
    /// and key cells (also set in bold).
    fn table(
        &mut self,
        widths: &[f32],
        rows: &[Vec<String>],
        shaded: impl Fn(usize, usize) -> bool,
    ) -> Result<(), RenderError> {
        let size = BODY;
        let lh = size * LEADING;
        for (r, row) in rows.iter().enumerate() {
            let cells: Vec<Vec<String>> = widths
                .iter()
                .enumerate()
                .map(|(c, w)| {
                    let t = row.get(c).map(String::as_str).unwrap_or("");
                    self.g.wrap(t, size, w - 2.0 * PAD)
                })
                .collect();
            let mut offs = vec![0usize; widths.len()];
            loop {
                let left = cells
                    .iter()
                    .zip(&offs)
                    .map(|(l, o)| l.len() - o)
                    .max()
                    .unwrap_or(0)
                    .max(1);
                let room = self.y - BOTTOM - 2.0 * PAD;
                if (left as f32) * lh > room && !self.fresh() {
                    self.new_page()?;
                    continue;
                }
                let take = ((room / lh).floor() as usize).clamp(1, left);
                let h = take as f32 * lh + 2.0 * PAD;
                let mut x = MARGIN_X;
                for (c, w) in widths.iter().enumerate() {
                    let bold = shaded(r, c);
                    if bold {
                        self.page
                            .set_fill_gray(0.92)
                            .rect(x, self.y - h, *w, h)
                            .fill_nonzero()
                            .set_fill_gray(0.0);
                    }
                    self.page
                        .set_line_width(0.5)
                        .rect(x, self.y - h, *w, h)
                        .stroke();
                    let end = (offs[c] + take).min(cells[c].len());
                    for (k, line) in cells[c][offs[c].min(end)..end].iter().enumerate() {
                        let top = self.y - PAD - k as f32 * lh;
                        let baseline = top - lh + (lh - size) / 2.0 + size * 0.12;
                        self.text_at(x + PAD, baseline, line, size, bold);
                    }
                    offs[c] = end;
                    x += w;
                }
                self.y -= h;
                if cells.iter().zip(&offs).all(|(l, o)| *o >= l.len()) {
                    break;
                }
                self.new_page()?;
            }
        }
        self.gap(lh * 0.5);
        Ok(())
    }

    fn block(&mut self, b: &Block) -> Result<(), RenderError> {
        match b {
            Block::Heading { level, text } => {
                let size = if *level <= 1 { 14.0 } else { 12.0 };
                // A heading is not left alone at the foot of a page.
                self.need(size * LEADING + BODY * LEADING * 2.0)?;
                self.gap(size * 0.4);
                self.lines(text, MARGIN_X, TEXT_W, size, true, false)?;
                self.gap(size * 0.2);
            }
            Block::Paragraph(t) => {
                self.lines(t, MARGIN_X, TEXT_W, BODY, false, false)?;
                self.gap(BODY * 0.4);
            }
            Block::KeyValue(kv) => {
                let rows: Vec<Vec<String>> =
                    kv.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect();
                let k = TEXT_W * 0.3;
                self.table(&[k, TEXT_W - k], &rows, |_, c| c == 0)?;
            }
            Block::Table { header, rows } => {
                let cols = columns(header, rows).max(1);
                let w = TEXT_W / cols as f32;
                let mut all = Vec::with_capacity(rows.len() + 1);
                let has_header = !header.is_empty();
                if has_header {
                    all.push(header.clone());
                }
                all.extend(rows.iter().cloned());
                self.table(&vec![w; cols], &all, |r, _| has_header && r == 0)?;
            }
            Block::List { ordered, items } => {
                let indent = BODY * 2.0;
                for (i, it) in items.iter().enumerate() {
                    let mark = if *ordered {
                        format!("{}.", i + 1)
                    } else {
                        "•".to_string()
                    };
                    let lh = BODY * LEADING;
                    self.need(lh)?;
                    let baseline = self.y - lh + (lh - BODY) / 2.0 + BODY * 0.12;
                    self.text_at(MARGIN_X + BODY * 0.5, baseline, &mark, BODY, false);
                    self.lines(it, MARGIN_X + indent, TEXT_W - indent, BODY, false, false)?;
                }
                self.gap(BODY * 0.4);
            }
        }
        Ok(())
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec does not fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// Six capital letters naming the subset (PDF 9.6.4), from its glyphs.
fn subset_tag(chars: &BTreeMap<u16, char>) -> String {
    let mut h: u32 = 2_166_136_261;
    for (g, c) in chars {
        for b in g.to_le_bytes().into_iter().chain((*c as u32).to_le_bytes()) {
            h = (h ^ b as u32).wrapping_mul(16_777_619);
        }
    }
    (0..6)
        .map(|i| (b'A' + ((h >> (i * 5)) % 26) as u8) as char)
        .collect()
}

/// The document as a PDF set in `font`.
pub fn render(doc: &Document, font: &Font, limits: &Limits) -> Result<Vec<u8>, RenderError> {
    doc.check(limits)?;
    let face = font.face();
    let upm = face.units_per_em().max(1) as f32;
    let mut remap = GlyphRemapper::new();
    remap.remap(0);
    let mut l = Layout {
        g: Glyphs {
            face,
            upm,
            remap,
            chars: BTreeMap::new(),
        },
        pages: Vec::new(),
        page: Content::new(),
        y: TOP,
        max_pages: limits.max_pages.max(1),
    };
    l.lines(&doc.title, MARGIN_X, TEXT_W, 18.0, true, true)?;
    if let Some(s) = &doc.subtitle {
        l.gap(4.0);
        l.lines(s, MARGIN_X, TEXT_W, 11.0, false, true)?;
    }
    l.gap(BODY);
    for b in &doc.blocks {
        l.block(b)?;
    }
    let last = std::mem::replace(&mut l.page, Content::new());
    l.pages.push(last);

    // Footers, now that the page count is known.
    let total = l.pages.len();
    let mut pages = std::mem::take(&mut l.pages);
    for (i, p) in pages.iter_mut().enumerate() {
        let text = match &doc.footer {
            Some(f) => format!("{f}    第 {} 页 / 共 {total} 页", i + 1),
            None => format!("第 {} 页 / 共 {total} 页", i + 1),
        };
        let chars: Vec<char> = text.chars().collect();
        let w = l.g.width(&chars, 9.0);
        std::mem::swap(&mut l.page, p);
        l.text_at((PAGE_W - w) / 2.0, 40.0, &text, 9.0, false);
        std::mem::swap(&mut l.page, p);
    }

    let g = l.g;
    let subset =
        subsetter::subset(&font.data, font.index, &g.remap).map_err(|e| FontError::Unusable {
            path: font.path.display().to_string(),
            reason: format!("subsetting: {e}"),
        })?;
    let cff = g
        .face
        .raw_face()
        .table(ttf_parser::Tag::from_bytes(b"CFF "))
        .is_some();

    let mut next = 0;
    let mut id = || {
        next += 1;
        Ref::new(next)
    };
    let (catalog, tree, type0, cid, descriptor, cmap, file, info) =
        (id(), id(), id(), id(), id(), id(), id(), id());
    let page_ids: Vec<(Ref, Ref)> = (0..pages.len()).map(|_| (id(), id())).collect();

    let mut pdf = Pdf::new();
    pdf.set_version(1, 7);
    pdf.catalog(catalog).pages(tree);
    pdf.document_info(info)
        .title(TextStr(&doc.title))
        .creator(TextStr("Taishi"));
    pdf.pages(tree)
        .kids(page_ids.iter().map(|(p, _)| *p))
        .count(page_ids.len() as i32);
    for ((pid, cid_), content) in page_ids.iter().zip(pages) {
        let mut page = pdf.page(*pid);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree)
            .contents(*cid_);
        page.resources().fonts().pair(FONT, type0);
        page.finish();
        let data = deflate(&content.finish().into_vec());
        pdf.stream(*cid_, &data).filter(Filter::FlateDecode);
    }

    let family: String = font
        .family
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let base = format!(
        "{}+{}",
        subset_tag(&g.chars),
        if family.is_empty() { "CJK" } else { &family }
    );
    pdf.type0_font(type0)
        .base_font(Name(format!("{base}-Identity-H").as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    let info_sys = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    let widths: Vec<f32> = g
        .remap
        .remapped_gids()
        .map(|old| {
            g.face
                .glyph_hor_advance(ttf_parser::GlyphId(old))
                .unwrap_or(0) as f32
                * 1000.0
                / upm
        })
        .collect();
    {
        let mut c = pdf.cid_font(cid);
        c.subtype(if cff {
            CidFontType::Type0
        } else {
            CidFontType::Type2
        })
        .base_font(Name(base.as_bytes()))
        .system_info(info_sys)
        .font_descriptor(descriptor)
        .default_width(1000.0);
        c.widths().consecutive(0, widths);
        if !cff {
            c.cid_to_gid_map_predefined(Name(b"Identity"));
        }
    }
    let s = 1000.0 / upm;
    let bb = g.face.global_bounding_box();
    let ascent = g.face.ascender() as f32 * s;
    {
        let mut d = pdf.font_descriptor(descriptor);
        d.name(Name(base.as_bytes()))
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(
                bb.x_min as f32 * s,
                bb.y_min as f32 * s,
                bb.x_max as f32 * s,
                bb.y_max as f32 * s,
            ))
            .italic_angle(0.0)
            .ascent(ascent)
            .descent(g.face.descender() as f32 * s)
            .cap_height(
                g.face
                    .capital_height()
                    .map(|h| h as f32 * s)
                    .unwrap_or(ascent),
            )
            .stem_v(80.0);
        if cff {
            d.font_file3(file);
        } else {
            d.font_file2(file);
        }
    }
    let compressed = deflate(&subset);
    let mut st = pdf.stream(file, &compressed);
    st.filter(Filter::FlateDecode);
    if cff {
        st.pair(Name(b"Subtype"), Name(b"OpenType"));
    } else {
        st.pair(Name(b"Length1"), subset.len() as i32);
    }
    st.finish();
    let mut u = pdf_writer::types::UnicodeCmap::new(Name(b"Custom"), info_sys);
    for (gid, c) in &g.chars {
        u.pair(*gid, *c);
    }
    let cmap_data = u.finish().into_vec();
    pdf.cmap(cmap, &cmap_data)
        .name(Name(b"Custom"))
        .system_info(info_sys);
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> Option<Font> {
        static FONT: std::sync::OnceLock<Option<Font>> = std::sync::OnceLock::new();
        FONT.get_or_init(|| {
            let configured = std::env::var_os("TAISHI_REPORT_FONT");
            match Font::find(configured.as_deref().map(std::path::Path::new)) {
                Ok(f) => Some(f),
                Err(e) => {
                    // CI installs one (scripts/setup.d/fonts.sh); a developer
                    // machine without one still runs the rest.
                    eprintln!("skipped: {e}");
                    None
                }
            }
        })
        .clone()
    }

    #[test]
    fn chinese_lines_break_between_characters_but_not_before_closing_punctuation() {
        let Some(f) = font() else { return };
        let face = f.face();
        let upm = face.units_per_em() as f32;
        let g = Glyphs {
            face,
            upm,
            remap: GlyphRemapper::new(),
            chars: BTreeMap::new(),
        };
        let text = "网络安全事件报告管理办法，自二〇二五年十一月一日起施行。";
        // Ten characters wide at 10 pt (CJK glyphs are one em).
        let lines = g.wrap(text, 10.0, 100.0);
        assert!(lines.len() >= 3, "{lines:?}");
        for l in &lines {
            assert!(l.chars().count() <= 11, "{l}");
            assert!(!l.starts_with('，') && !l.starts_with('。'), "{lines:?}");
        }
        assert_eq!(lines.concat(), text);
        // Latin words break at spaces.
        let lines = g.wrap("alpha beta gamma delta", 10.0, 60.0);
        assert!(lines
            .iter()
            .all(|l| !l.starts_with(' ') && !l.ends_with(' ')));
        assert!(
            lines.contains(&"alpha beta".to_string()) || lines.contains(&"alpha".to_string()),
            "{lines:?}"
        );
    }

    #[test]
    fn a_long_document_has_several_pages_and_embeds_the_font() {
        let Some(f) = font() else { return };
        let mut d = Document::new("网络安全事件报告");
        d.subtitle = Some("甲单位 · 2026-12-06T19:00:00+08:00".into());
        for i in 0..80 {
            d.heading(1, format!("第{i}节"));
            d.paragraph("事件原因初步分析：攻击者利用弱口令登录。".repeat(4));
        }
        d.table(
            vec!["主机".into(), "地址".into()],
            vec![vec!["ws01".into(), "10.0.0.1".into()]; 50],
        );
        let pdf = render(&d, &f, &Limits::default()).unwrap();
        assert!(pdf.starts_with(b"%PDF-1.7"));
        let s = String::from_utf8_lossy(&pdf);
        assert!(s.matches("/Type /Page\n").count() > 3 || s.matches("/Type /Page").count() > 4);
        assert!(s.contains("/ToUnicode"));
        assert!(s.contains("FontFile"));
        // A subset, not the whole font.
        assert!(pdf.len() < 2_000_000, "{}", pdf.len());
    }

    #[test]
    fn the_page_limit_is_kept() {
        let Some(f) = font() else { return };
        let mut d = Document::new("t");
        for _ in 0..200 {
            d.paragraph("字".repeat(400));
        }
        let l = Limits {
            max_pages: 5,
            ..Limits::default()
        };
        assert!(matches!(
            render(&d, &f, &l),
            Err(RenderError::TooLarge { what: "pages", .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        #[test]
        fn any_text_renders(s in "\\PC{0,300}", w in 5.0f32..400.0) {
            let Some(f) = font() else { return Ok(()) };
            let face = f.face();
            let upm = face.units_per_em() as f32;
            let g = Glyphs { face, upm, remap: GlyphRemapper::new(), chars: BTreeMap::new() };
            let lines = g.wrap(&s, 10.0, w);
            proptest::prop_assert!(!lines.is_empty());
            let mut d = Document::new(s.clone());
            d.paragraph(s.clone()).table(vec![s.clone()], vec![vec![s]]);
            render(&d, &f, &Limits::default()).unwrap();
        }
    }
}
