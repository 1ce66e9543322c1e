//! The hostile suite (issue 10): each test drives a real `taishi serve`
//! process over loopback the way an attacker or a careless sender would, and
//! asserts the server stays up, its memory stays under a stated cap, other
//! senders are not held up beyond a stated bound, and the offender gets a
//! clear 4xx or a counted reject. Every loop is bounded in count and time.
//!
//! One module per part of the service, so the tests of one finding live
//! beside the others that hit the same code.

mod harness;

mod cli;
mod feeds;
mod frontdoor;
mod ingest;
mod lifecycle;
mod netflow;
mod parsers;
mod runtime;
mod search;
mod smoke;
mod store;
