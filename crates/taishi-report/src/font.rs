//! The CJK font the PDF is set in, found at run time: the configured
//! file, else the usual system places of Noto Sans/Serif CJK, WenQuanYi,
//! Droid Sans Fallback and SimSun. None found is an error that names the
//! package to install.

use std::path::{Path, PathBuf};

/// A font file is read only up to this size (the largest CJK collections,
/// Noto's "super OTC", are about 120 MB).
pub const MAX_FONT_BYTES: u64 = 256 * 1024 * 1024;

/// Where fonts with Chinese glyphs usually are, best first.
pub const SYSTEM_FONTS: &[&str] = &[
    // Debian, Ubuntu: fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    // Fedora, RHEL: google-noto-sans-cjk-fonts; Arch: noto-fonts-cjk
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-serif-cjk-fonts/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc",
    // Alpine: font-noto-cjk
    "/usr/share/fonts/noto/NotoSansCJK-Regular.ttc",
    // fonts-wqy-microhei, fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    // fonts-droid-fallback
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/google-droid/DroidSansFallback.ttf",
    "/usr/share/fonts/droid/DroidSansFallback.ttf",
    // Windows, macOS
    "C:\\Windows\\Fonts\\simsun.ttc",
    "C:\\Windows\\Fonts\\simhei.ttf",
    "/System/Library/Fonts/Supplemental/Songti.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
];

/// A font that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FontError {
    #[error("no CJK font for PDF reports: none configured ([report] font in taishi.toml) and none of {tried} system places has one; install one (Debian/Ubuntu: apt install fonts-noto-cjk, or fonts-wqy-microhei; Fedora: dnf install google-noto-sans-cjk-fonts) or set [report] font = \"/path/to/font.ttc\" (DOCX reports need no font) / 没有可用于 PDF 报告的中文字体：请安装 fonts-noto-cjk 或 fonts-wqy-microhei，或在 taishi.toml 的 [report] 中设置 font（DOCX 报告不需要字体）")]
    NotFound { tried: usize },
    #[error("font {path}: {reason} / 字体 {path} 不可用：{reason}")]
    Unusable { path: String, reason: String },
}

/// A font file held in memory, with the face of a collection to use.
#[derive(Debug, Clone)]
pub struct Font {
    pub path: PathBuf,
    pub(crate) data: std::sync::Arc<Vec<u8>>,
    pub index: u32,
    /// The family name (for the PDF's font name).
    pub family: String,
}

impl Font {
    /// Loads `path`: it must parse, be within [`MAX_FONT_BYTES`], and map
    /// the Chinese character 中 to a glyph. In a collection the face whose
    /// name says simplified Chinese (SC) is taken, else the first.
    pub fn load(path: &Path) -> Result<Font, FontError> {
        let unusable = |reason: String| FontError::Unusable {
            path: path.display().to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| unusable(e.to_string()))?;
        if meta.len() > MAX_FONT_BYTES {
            return Err(unusable(format!(
                "larger than {MAX_FONT_BYTES} bytes / 超过 {MAX_FONT_BYTES} 字节"
            )));
        }
        let data = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
        Font::from_bytes(path, data)
    }

    /// As [`Font::load`], from bytes already read.
    pub fn from_bytes(path: &Path, data: Vec<u8>) -> Result<Font, FontError> {
        let unusable = |reason: String| FontError::Unusable {
            path: path.display().to_string(),
            reason,
        };
        let faces = ttf_parser::fonts_in_collection(&data).unwrap_or(1).min(64);
        let mut chosen: Option<(u32, String)> = None;
        for index in 0..faces {
            let face = match ttf_parser::Face::parse(&data, index) {
                Ok(f) => f,
                Err(e) if index + 1 == faces && chosen.is_none() => {
                    return Err(unusable(e.to_string()))
                }
                Err(_) => continue,
            };
            if face.glyph_index('中').is_none() {
                continue;
            }
            let family = face
                .names()
                .into_iter()
                .filter(|n| n.name_id == ttf_parser::name_id::FAMILY && n.is_unicode())
                .find_map(|n| n.to_string())
                .unwrap_or_else(|| "CJK".to_string());
            let sc = family.contains(" SC") || family.ends_with("SC");
            if chosen.is_none() || sc {
                chosen = Some((index, family));
            }
            if sc {
                break;
            }
        }
        let (index, family) = chosen
            .ok_or_else(|| unusable("has no Chinese glyphs (中) / 不含中文字形".to_string()))?;
        Ok(Font {
            path: path.to_path_buf(),
            data: std::sync::Arc::new(data),
            index,
            family,
        })
    }

    /// The configured font, else the first usable system font.
    pub fn find(configured: Option<&Path>) -> Result<Font, FontError> {
        if let Some(p) = configured {
            return Font::load(p);
        }
        Font::find_in(SYSTEM_FONTS.iter().map(Path::new))
    }

    /// The first usable font among `paths` (those absent are skipped).
    pub fn find_in<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<Font, FontError> {
        let mut tried = 0;
        for p in paths {
            tried += 1;
            if p.is_file() {
                if let Ok(f) = Font::load(p) {
                    return Ok(f);
                }
            }
        }
        Err(FontError::NotFound { tried })
    }

    pub(crate) fn face(&self) -> ttf_parser::Face<'_> {
        // Parsed once in `from_bytes`; the bytes have not changed since.
        ttf_parser::Face::parse(&self.data, self.index).expect("checked at load")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_font_names_the_package_to_install() {
        let e = Font::find_in([Path::new("/nonexistent/a.ttf")]).unwrap_err();
        assert_eq!(e, FontError::NotFound { tried: 1 });
        let msg = e.to_string();
        assert!(msg.contains("fonts-noto-cjk"), "{msg}");
        assert!(msg.contains("[report] font"), "{msg}");
        assert!(msg.contains("请安装"), "{msg}");
    }

    #[test]
    fn a_file_that_is_no_font_is_unusable() {
        let dir = std::env::temp_dir().join(format!("taishi-report-font-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("not-a-font.ttf");
        std::fs::write(&p, b"hello").unwrap();
        assert!(matches!(Font::load(&p), Err(FontError::Unusable { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
