//! Why a fetch was refused: which rule, which URL or address, and what to
//! change in the config, in English and Chinese.

use std::net::IpAddr;

use crate::Category;

/// The language of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

/// A refused outgoing fetch. `Display` gives the English message followed
/// by the Chinese one, because it ends up in places (a feed's last error,
/// an output's delivery error) read by either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// The URL cannot be parsed.
    #[error("{}", self.both())]
    BadUrl { url: String, reason: String },
    /// Not `http` or `https` (`file://`, `gopher://`, `ftp://` …).
    #[error("{}", self.both())]
    Scheme { url: String, scheme: String },
    /// `user:password@` in the URL: credentials belong in the feed's or
    /// output's `auth`/header settings, and userinfo is a classic way to
    /// make two parsers disagree on the host.
    #[error("{}", self.both())]
    Userinfo { url: String },
    /// No host (`http:///x`).
    #[error("{}", self.both())]
    NoHost { url: String },
    /// The host is, or resolves to, an address in a refused range.
    #[error("{}", self.both())]
    Address {
        host: String,
        addr: IpAddr,
        category: Category,
    },
    /// The name could not be resolved (or resolved to nothing).
    #[error("{}", self.both())]
    Resolve { host: String, reason: String },
}

impl EgressError {
    /// The message in one language, naming the setting that changes the
    /// outcome when one does.
    pub fn message(&self, lang: Lang) -> String {
        use EgressError::*;
        use Lang::*;
        match (self, lang) {
            (BadUrl { url, reason }, En) => format!("egress: `{url}` is not a valid URL: {reason}"),
            (BadUrl { url, reason }, ZhCn) => format!("外发访问：`{url}` 不是有效的 URL：{reason}"),
            (Scheme { url, scheme }, En) => format!(
                "egress: `{url}`: the scheme `{scheme}` is refused; only http and https may be fetched"
            ),
            (Scheme { url, scheme }, ZhCn) => {
                format!("外发访问：`{url}`：不允许 `{scheme}` 协议，只能使用 http 或 https")
            }
            (Userinfo { url }, En) => format!(
                "egress: `{url}`: user name or password in the URL is refused; put credentials in the feed's or output's auth settings"
            ),
            (Userinfo { url }, ZhCn) => format!(
                "外发访问：`{url}`：URL 中不允许包含用户名或密码，请在订阅源或输出的认证设置中填写凭据"
            ),
            (NoHost { url }, En) => format!("egress: `{url}` names no host"),
            (NoHost { url }, ZhCn) => format!("外发访问：`{url}` 没有主机名"),
            (Address { host, addr, category }, En) => {
                let fix = if category.is_private_like() {
                    format!("set `[egress] allow_private = true`, or add `{addr}` (or its network) or `{host}` to `[egress] allow`")
                } else {
                    format!("if this target is really intended, add `{addr}` or `{host}` to `[egress] allow`")
                };
                format!(
                    "egress: {host} is {addr}, a {} address; refused. To allow it, {fix}",
                    category.label(En)
                )
            }
            (Address { host, addr, category }, ZhCn) => {
                let fix = if category.is_private_like() {
                    format!("设置 `[egress] allow_private = true`，或把 `{addr}`（或其网段）或 `{host}` 加入 `[egress] allow`")
                } else {
                    format!("如确需访问，请把 `{addr}` 或 `{host}` 加入 `[egress] allow`")
                };
                format!(
                    "外发访问：{host} 的地址 {addr} 属于{}，已拒绝。如需允许：{fix}",
                    category.label(ZhCn)
                )
            }
            (Resolve { host, reason }, En) => format!("egress: resolving {host}: {reason}"),
            (Resolve { host, reason }, ZhCn) => format!("外发访问：无法解析 {host}：{reason}"),
        }
    }

    fn both(&self) -> String {
        format!("{} / {}", self.message(Lang::En), self.message(Lang::ZhCn))
    }

    /// A refusal by policy (as opposed to a name that did not resolve,
    /// which may pass): retrying cannot help until the config changes.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, EgressError::Resolve { .. })
    }
}
