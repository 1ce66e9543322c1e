//! Loading the crate's versioned data files (and operators' overrides of
//! them): one error type that names the file, the line and the field.

use serde::de::DeserializeOwned;

/// Data files are small tables; anything bigger is a mistake or an attack
/// on the loader, refused before parsing.
pub const MAX_DATA_BYTES: usize = 1 << 20;

/// A data file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("{file}: {bytes} bytes is over the {limit}-byte limit for a data file")]
    TooLarge {
        file: String,
        bytes: usize,
        limit: usize,
    },
    #[error("{file}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Syntax {
        file: String,
        line: Option<usize>,
        message: String,
    },
    #[error("{file}: {field}: {message}")]
    Invalid {
        file: String,
        field: String,
        message: String,
    },
}

impl DataError {
    pub(crate) fn invalid(
        file: &str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        DataError::Invalid {
            file: file.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses a YAML data file, bounded in size.
pub(crate) fn parse_yaml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, DataError> {
    if text.len() > MAX_DATA_BYTES {
        return Err(DataError::TooLarge {
            file: file.to_string(),
            bytes: text.len(),
            limit: MAX_DATA_BYTES,
        });
    }
    serde_yaml::from_str(text).map_err(|e| DataError::Syntax {
        file: file.to_string(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })
}
