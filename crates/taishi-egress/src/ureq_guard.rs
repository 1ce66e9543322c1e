//! The guard inside ureq 3 (taishi-intel's feeds, TAXII and MISP): a
//! resolver that checks every address before ureq connects to it. ureq
//! asks its resolver for every connection, redirect hops and address
//! literals included, so each hop is checked on the address it uses.

use std::sync::Arc;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::{EgressError, EgressPolicy};

/// ureq's own resolver, then the policy on what it found.
#[derive(Debug)]
pub struct GuardedResolver {
    policy: Arc<EgressPolicy>,
    inner: DefaultResolver,
}

impl GuardedResolver {
    pub fn new(policy: Arc<EgressPolicy>) -> GuardedResolver {
        GuardedResolver {
            policy,
            inner: DefaultResolver::default(),
        }
    }
}

fn refuse(e: EgressError) -> ureq::Error {
    ureq::Error::Other(Box::new(e))
}

impl Resolver for GuardedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        // A redirect's Location reaches here without passing check_url:
        // its scheme and userinfo are checked here.
        self.policy.check_url(&uri.to_string()).map_err(refuse)?;
        let host = uri.host().unwrap_or("");
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let mut out = self.empty();
        for a in self
            .policy
            .check_addrs(host, addrs.iter().copied())
            .map_err(refuse)?
        {
            out.push(a);
        }
        Ok(out)
    }
}

/// An agent whose every connection goes through the policy. Proxies from
/// the environment are off: through a proxy the target's address is
/// resolved by the proxy, out of the guard's sight.
pub fn agent(
    policy: Arc<EgressPolicy>,
    config: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>,
) -> ureq::Agent {
    let config = config.proxy(None).build();
    ureq::Agent::with_parts(
        config,
        DefaultConnector::default(),
        GuardedResolver::new(policy),
    )
}

/// The policy's refusal inside a ureq error, if that is what it is.
pub fn refusal(e: &ureq::Error) -> Option<&EgressError> {
    match e {
        ureq::Error::Other(b) => b.downcast_ref::<EgressError>(),
        _ => None,
    }
}
