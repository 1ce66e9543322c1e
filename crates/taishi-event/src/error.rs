//! What kind of failure an error is: the one question every caller that
//! answers a sender (HTTP status, retry or not) has to ask, asked the same
//! way of every crate's errors.

/// Whether trying again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The service or something it depends on is busy or unavailable
    /// (disk, network, a peer): the same request may succeed later.
    Transient,
    /// The request itself is at fault: sending it again gives the same error.
    Rejected,
    /// [`ErrorKind::Rejected`] because it is too large: a smaller one
    /// (a split batch) may succeed.
    TooLarge,
}

impl ErrorKind {
    /// Worth retrying unchanged.
    pub fn is_transient(self) -> bool {
        self == ErrorKind::Transient
    }
}

/// An error that knows its [`ErrorKind`]: what lets a caller turn any
/// crate's error into its own answer (the ingest sink's error, an HTTP
/// status) without matching on variants it does not own.
pub trait Kinded: std::error::Error {
    fn kind(&self) -> ErrorKind;
}
