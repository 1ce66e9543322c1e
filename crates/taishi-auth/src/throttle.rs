//! Failures per account and per address, and the lockout they lead to.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;
use serde::{Deserialize, Serialize};

use crate::Lang;

/// `[auth]` throttling settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Wrong passwords in a row that lock an account.
    pub max_failures: u32,
    /// Failures from one address (over any accounts) that lock the address:
    /// password spraying tries few passwords on many accounts.
    pub max_failures_per_address: u32,
    /// How long a lock lasts, seconds.
    pub lockout_secs: u64,
    /// Accounts and addresses remembered (least recently failed forgotten
    /// first), so a flood of made-up names cannot grow memory.
    pub remembered: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            max_failures: 10,
            max_failures_per_address: 50,
            lockout_secs: 15 * 60,
            remembered: 100_000,
        }
    }
}

/// What is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    Account,
    Address,
}

/// A sign-in refused before its password was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message(Lang::En))]
pub struct Locked {
    pub scope: LockScope,
    /// Seconds until the lock ends.
    pub retry_after_secs: u64,
}

impl Locked {
    pub fn message(&self, lang: Lang) -> String {
        let mins = self.retry_after_secs.div_ceil(60);
        match (self.scope, lang) {
            (LockScope::Account, Lang::En) => format!(
                "too many wrong passwords: this account is locked for {mins} more minute(s); try again later or ask an administrator to unlock it"
            ),
            (LockScope::Account, Lang::Zh) => {
                format!("密码错误次数过多：该账号已锁定，{mins} 分钟后再试，或请管理员解锁")
            }
            (LockScope::Address, Lang::En) => format!(
                "too many failed sign-ins from your address: try again in {mins} minute(s)"
            ),
            (LockScope::Address, Lang::Zh) => {
                format!("来自您地址的登录失败次数过多：请 {mins} 分钟后再试")
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

/// Login failures, bounded.
pub struct Throttle {
    cfg: ThrottleConfig,
    accounts: Mutex<LruCache<String, Failures>>,
    addresses: Mutex<LruCache<IpAddr, Failures>>,
}

impl Throttle {
    pub fn new(cfg: ThrottleConfig) -> Throttle {
        let cap = NonZeroUsize::new(cfg.remembered.max(1)).unwrap_or(NonZeroUsize::MIN);
        Throttle {
            cfg,
            accounts: Mutex::new(LruCache::new(cap)),
            addresses: Mutex::new(LruCache::new(cap)),
        }
    }

    /// Refuses a sign-in while its account or address is locked. Called
    /// before the password is checked.
    pub fn check(&self, account: &str, addr: Option<IpAddr>, now: Instant) -> Result<(), Locked> {
        let left = |f: Option<&Failures>| {
            f.and_then(|f| f.locked_until)
                .filter(|u| *u > now)
                .map(|u| (u - now).as_secs().max(1))
        };
        if let Some(secs) = left(lock(&self.accounts).peek(account)) {
            return Err(Locked {
                scope: LockScope::Account,
                retry_after_secs: secs,
            });
        }
        if let Some(a) = addr {
            if let Some(secs) = left(lock(&self.addresses).peek(&a)) {
                return Err(Locked {
                    scope: LockScope::Address,
                    retry_after_secs: secs,
                });
            }
        }
        Ok(())
    }

    /// Counts a wrong password (or an unknown name); the one that reaches
    /// the limit locks.
    pub fn failed(&self, account: &str, addr: Option<IpAddr>, now: Instant) {
        let lockout = Duration::from_secs(self.cfg.lockout_secs);
        let bump = |f: &mut Failures, max: u32| {
            // A lock that has ended starts a fresh count.
            if f.locked_until.is_some_and(|u| u <= now) {
                *f = Failures {
                    count: 0,
                    locked_until: None,
                };
            }
            f.count += 1;
            if f.count >= max {
                f.locked_until = Some(now + lockout);
            }
        };
        let fresh = Failures {
            count: 0,
            locked_until: None,
        };
        {
            let mut a = lock(&self.accounts);
            let f = a.get_or_insert_mut(account.to_string(), || fresh);
            bump(f, self.cfg.max_failures.max(1));
        }
        if let Some(ip) = addr {
            let mut a = lock(&self.addresses);
            let f = a.get_or_insert_mut(ip, || fresh);
            bump(f, self.cfg.max_failures_per_address.max(1));
        }
    }

    /// A right password ends the account's run of failures.
    pub fn succeeded(&self, account: &str) {
        lock(&self.accounts).pop(account);
    }

    /// An administrator lifts an account's lock.
    pub fn unlock(&self, account: &str) {
        lock(&self.accounts).pop(account);
    }

    pub fn config(&self) -> ThrottleConfig {
        self.cfg
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ThrottleConfig {
        ThrottleConfig {
            max_failures: 10,
            max_failures_per_address: 30,
            lockout_secs: 60,
            remembered: 4,
        }
    }

    #[test]
    fn the_tenth_failure_locks_the_account_and_the_lock_ends() {
        let t = Throttle::new(cfg());
        let now = Instant::now();
        let ip = Some("192.0.2.1".parse().unwrap());
        for _ in 0..9 {
            t.check("alice", ip, now).unwrap();
            t.failed("alice", ip, now);
        }
        t.check("alice", ip, now).unwrap();
        t.failed("alice", ip, now);
        let e = t.check("alice", ip, now).unwrap_err();
        assert_eq!(e.scope, LockScope::Account);
        assert!(e.message(Lang::Zh).contains("锁定"));
        // Another account from the same address is not locked by alice's run.
        t.check("bob", ip, now).unwrap();
        // The lock ends, and the count starts again.
        let later = now + Duration::from_secs(61);
        t.check("alice", ip, later).unwrap();
        t.failed("alice", ip, later);
        t.check("alice", ip, later).unwrap();
    }

    #[test]
    fn spraying_many_accounts_from_one_address_locks_the_address() {
        let t = Throttle::new(ThrottleConfig {
            remembered: 1000,
            ..cfg()
        });
        let now = Instant::now();
        let ip = Some("198.51.100.7".parse().unwrap());
        for i in 0..30 {
            t.failed(&format!("user{i}"), ip, now);
        }
        assert_eq!(
            t.check("someone-else", ip, now).unwrap_err().scope,
            LockScope::Address
        );
        t.check("someone-else", Some("198.51.100.8".parse().unwrap()), now)
            .unwrap();
    }

    #[test]
    fn a_success_clears_the_run_and_memory_is_bounded() {
        let t = Throttle::new(cfg());
        let now = Instant::now();
        for _ in 0..9 {
            t.failed("alice", None, now);
        }
        t.succeeded("alice");
        t.failed("alice", None, now);
        t.check("alice", None, now).unwrap();
        for i in 0..100 {
            t.failed(&format!("made-up-{i}"), None, now);
        }
        assert!(lock(&t.accounts).len() <= 4);
    }
}
