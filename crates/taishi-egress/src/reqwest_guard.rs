//! The guard inside reqwest 0.12 (taishi-alert's webhook and chat-robot
//! outputs): a DNS resolver that checks every address of a name, and a
//! redirect policy that checks every hop's URL. reqwest connects to an
//! address literal without asking its resolver, so literals are checked by
//! [`EgressPolicy::check_url`], both before the request
//! ([`check_request`]) and on each redirect.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::{EgressError, EgressPolicy};

/// Most redirects followed (reqwest's own default).
pub const MAX_REDIRECTS: usize = 10;

/// Resolves with tokio (the system resolver), then applies the policy.
#[derive(Debug, Clone)]
pub struct GuardedDns {
    policy: Arc<EgressPolicy>,
}

impl GuardedDns {
    pub fn new(policy: Arc<EgressPolicy>) -> GuardedDns {
        GuardedDns { policy }
    }
}

impl Resolve for GuardedDns {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = policy.resolve_async(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A client builder with the guard in place: the resolver, the redirect
/// check, and no proxies from the environment (through a proxy the
/// target's address is resolved by the proxy, out of the guard's sight; a
/// proxy set explicitly afterwards is the operator's choice).
pub fn builder(policy: Arc<EgressPolicy>) -> reqwest::ClientBuilder {
    let hops = policy.clone();
    reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(GuardedDns::new(policy)))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!(
                    "more than {MAX_REDIRECTS} redirects / 重定向超过 {MAX_REDIRECTS} 次"
                ));
            }
            match hops.check_url(attempt.url().as_str()) {
                Ok(_) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        }))
}

/// Checks a request's URL before it is sent (see the module's note on
/// literals).
pub fn check_request(policy: &EgressPolicy, url: &str) -> Result<(), EgressError> {
    policy.check_url(url).map(|_| ())
}

/// The policy's refusal somewhere in a reqwest error's chain, if that is
/// why it failed.
pub fn refusal(e: &reqwest::Error) -> Option<&EgressError> {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(x) = s.downcast_ref::<EgressError>() {
            return Some(x);
        }
        src = s.source();
    }
    None
}
