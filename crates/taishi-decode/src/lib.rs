//! The input side of Taishi: turns paths (files, folders, `-` for stdin,
//! gzip or zstd compressed) into events, choosing each input's decoder from
//! its content.

mod detect;
mod input;

pub use detect::{detect, new_decoder};
pub use input::{
    decode_input, decode_path, events_of, expand_inputs, Input, InputError, NoEvents, Options,
    SourceReport,
};
