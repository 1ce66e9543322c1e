//! The front door of `taishi serve`.
//!
//! * [`Hasher`]: Argon2id hashing and verification on a small pool of
//!   permits, so a flood of logins queues (and is refused with
//!   [`Busy`] past a wait) instead of hashing all at once: each
//!   verification holds ~19 MiB for ~30 ms, and 100 at once once took the
//!   server to 7 GiB. An unknown user name is verified against a dummy
//!   hash of the same parameters, so it costs what a real one costs and
//!   names cannot be told apart by time.
//! * [`Throttle`]: failures counted per account and per source address;
//!   after `max_failures` in a row the account (or address) is locked for
//!   `lockout`, and attempts meanwhile are refused before any password is
//!   checked. Both tables are bounded LRUs.
//! * [`PasswordPolicy`]: length, character classes, not the user name, not
//!   one of the last few passwords, and an age after which it must change.
//!
//! * [`Permission`], [`BuiltinRole`], [`CustomRole`]: what an account may
//!   do, with the separation of duties (三权分立) checked on every union.
//!
//! Defaults follow GB/T 22239-2019 level 3 practice (login-failure handling,
//! complexity, periodic change); every one can be set in `[auth]`.

mod hasher;
mod policy;
mod roles;
mod throttle;

pub use hasher::{hash_password, verify_password, Busy, HashError, Hasher};
pub use policy::{PasswordPolicy, PolicyError};
pub use roles::{grants_of, BuiltinRole, CustomRole, Grants, Permission, RoleError, LEGACY_ADMIN};
pub use throttle::{LockScope, Locked, Throttle, ThrottleConfig};

/// A language for messages shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}
