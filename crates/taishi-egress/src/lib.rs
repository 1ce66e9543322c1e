//! The egress guard: every outgoing fetch Taishi makes on an operator's
//! say-so (intel feeds, TAXII, MISP, webhooks, chat robots, SMTP, syslog)
//! goes through an [`EgressPolicy`], so a URL typed into the console cannot
//! make the server read its own loopback services, the cloud metadata
//! endpoint or the operator's internal network (SSRF), unless the config
//! says that target is intended.
//!
//! Two checks, both needed:
//! - the URL ([`EgressPolicy::check_url`]): `http`/`https` only, no
//!   userinfo, a host; an IP-literal host is checked at once (HTTP clients
//!   connect to literals without asking their resolver);
//! - every address a name resolves to ([`EgressPolicy::check_addrs`]), done
//!   inside the client's own resolver ([`ureq`](crate::ureq_guard) and
//!   [`reqwest`](crate::reqwest_guard) adapters), so the address checked is
//!   the address connected to: no second lookup a rebinding DNS server
//!   could answer differently.

mod error;
mod policy;
mod ranges;
#[cfg(feature = "reqwest")]
pub mod reqwest_guard;
#[cfg(feature = "ureq")]
pub mod ureq_guard;

pub use error::{EgressError, Lang};
pub use policy::{AllowEntry, CheckedUrl, EgressPolicy, MAX_ADDRS};
pub use ranges::{classify, Category};
