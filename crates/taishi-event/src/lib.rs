//! Taishi's event model and the contract every decoder keeps.
//!
//! An [`Event`] carries the source's own field names (what Sigma rules and
//! analysts know: `CommandLine`, `id.orig_h`, `src_ip`) beside normalised ECS
//! fields (`source.ip`, `event.category`, …; see [`ecs`]). Decoders implement
//! [`Decoder`] and hand events and [`Reject`]s to a [`Sink`]: bad input is
//! named and kept, never dropped.

pub mod decode;
pub mod ecs;
pub mod error;
pub mod event;
pub mod json;
pub mod level;
pub mod metrics;
pub mod roles;
pub mod time;
pub mod value;

pub use decode::{
    for_each_line, Confidence, DecodeContext, Decoder, Format, Framing, Location, Reject, Sink,
    VecSink,
};
pub use error::{ErrorKind, Kinded};
pub use event::Event;
pub use level::{Level, UnknownLevel};
pub use value::{Str, Value};
