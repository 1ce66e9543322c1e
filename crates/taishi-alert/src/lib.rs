//! Taishi's alert outputs: grouping and suppression, then delivery to a
//! generic webhook (JSON), DingTalk, WeCom and Feishu robots (with their
//! signature schemes), e-mail over SMTP, and syslog (CEF or RFC 5424) to
//! another SIEM.
//!
//! * [`Alert`] is the alert model (its JSON is the API's alert form).
//! * [`AlertsConfig`] is the `[alerts]` section of `taishi.toml`, with
//!   `[[alerts.outputs]]`; [`AlertsConfig::validate`] names every problem.
//! * [`Dispatcher`] runs it: [`Dispatcher::submit`] never blocks;
//!   [`Dispatcher::metrics`] counts sent, failed, suppressed and dropped per
//!   output ([`Metrics::to_prometheus`] for `/metrics`);
//!   [`Dispatcher::test_output`] sends a test message.
//! * [`Outputs`] is what a service runs: the configured or saved outputs,
//!   replaced live, secrets masked in [`Outputs::list`], and an outbox that
//!   keeps undelivered notifications over a restart.
//! * [`Grouper`] is the grouping/suppression state machine on its own.
//! * [`sign`] holds the DingTalk, Feishu and webhook signatures.

pub mod alert;
pub mod config;
pub mod dispatch;
pub mod notification;
pub mod output;
pub mod outputs;
pub mod sign;

pub use alert::{now_iso, Alert, AlertKind, AlertRecord, AlertStatus, Level, Resolution};
pub use config::{
    AlertsConfig, Format, Framing, Language, OutputConfig, OutputType, Protocol, SmtpTls,
};
pub use dispatch::{
    test_output, ConfigProblems, CustomOutput, Dispatcher, Emit, Grouper, Metrics, OutputMetrics,
    Unsent,
};
pub use notification::{Notification, NotificationKind};
pub use output::{BoxFuture, Deliver, DeliveryError};
pub use outputs::{OutboxCounters, OutputItem, Outputs, OutputsList, ReplaceError};
/// Where outputs may connect (`AlertsConfig::egress`).
pub use taishi_egress::{EgressError, EgressPolicy};
