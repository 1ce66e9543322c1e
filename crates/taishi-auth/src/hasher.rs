//! Argon2id on a bounded pool.

use std::sync::Arc;
use std::time::Duration;

use std::sync::Mutex;

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

/// The most Argon2 memory one verification may take (a stored hash with
/// larger parameters is refused): 256 MiB.
const MAX_BLOCKS: usize = 256 * 1024;

/// Hashing failed (the OS random generator or Argon2 itself).
#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

/// Every hashing permit stayed busy for the whole wait: the caller should
/// answer 429 and the client try again shortly.
#[derive(Debug, thiserror::Error)]
#[error("too many sign-ins at once; try again in a few seconds")]
pub struct Busy;

/// A new Argon2id PHC string for `pw` with a random salt.
pub fn hash_password(pw: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| HashError(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `pw` matches the PHC string `phc` (false when `phc` is not one).
pub fn verify_password(pw: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// [`verify_password`] in `memory`, which is kept for the next call.
///
/// Argon2's own verification allocates its ~19 MiB afresh each time, and
/// glibc does not give those blocks back: a server grew by about that much
/// per sign-in (measured: 216 MiB after 15 sequential verifications). A
/// buffer per hashing permit bounds the memory at permits × 19 MiB.
fn verify_in(pw: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(alg), Ok(params)) = (Algorithm::try_from(h.algorithm), Params::try_from(&h)) else {
        return false;
    };
    let version = match h.version {
        Some(v) => match Version::try_from(v) {
            Ok(v) => v,
            Err(_) => return false,
        },
        None => Version::V0x13,
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_BLOCKS {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let ok = Argon2::new(alg, version, params)
        .hash_password_into_with_memory(pw.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_ok();
    // `Output`'s comparison takes the same time wherever the bytes differ.
    ok && Output::new(&out).is_ok_and(|o| o == expected)
}

/// Hashing and verification, at most `permits` at a time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// One Argon2 work area per permit, reused (see [`verify_in`]).
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    wait: Duration,
    /// Verified against when the user does not exist, so that costs the
    /// same as a real user.
    dummy: Arc<str>,
}

impl Hasher {
    /// `permits` concurrent hashes (the cores to give to sign-ins); a
    /// caller waits at most `wait` for one.
    pub fn new(permits: usize, wait: Duration) -> Result<Hasher, HashError> {
        let mut dummy = [0u8; 24];
        getrandom::fill(&mut dummy).map_err(|e| HashError(e.to_string()))?;
        let dummy = hash_password(&format!("{dummy:?}"))?;
        Ok(Hasher {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            memory: Arc::default(),
            wait,
            dummy: dummy.into(),
        })
    }

    /// Checks `pw` against `phc`, or against the dummy hash when the user
    /// is unknown (`None`: always false, at the same cost).
    pub async fn verify(&self, pw: String, phc: Option<String>) -> Result<bool, Busy> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.to_string());
        let memory = self.memory.clone();
        let ok = self
            .run(move || {
                // At most one area per permit is ever taken out.
                let mut area = lock(&memory).pop().unwrap_or_default();
                let ok = verify_in(&pw, &phc, &mut area);
                lock(&memory).push(area);
                ok
            })
            .await?;
        Ok(known && ok)
    }

    /// Hashes a new password on the pool.
    pub async fn hash(&self, pw: String) -> Result<Result<String, HashError>, Busy> {
        self.run(move || hash_password(&pw)).await
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let out = tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(|_| Busy)?;
        Ok(out)
    }

    /// Permits free now (for metrics and tests).
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_user_is_never_verified_and_a_real_one_is() {
        let h = Hasher::new(1, Duration::from_secs(10)).unwrap();
        let phc = hash_password("correct horse").unwrap();
        assert!(h
            .verify("correct horse".into(), Some(phc.clone()))
            .await
            .unwrap());
        assert!(!h.verify("wrong".into(), Some(phc)).await.unwrap());
        assert!(!h.verify("anything".into(), None).await.unwrap());
    }

    #[test]
    fn verifying_in_a_kept_area_agrees_with_argon2() {
        let phc = hash_password("correct horse").unwrap();
        let mut area = Vec::new();
        assert!(verify_in("correct horse", &phc, &mut area));
        assert!(!verify_in("correct horsf", &phc, &mut area));
        assert!(!verify_in("x", "not a hash", &mut area));
        assert_eq!(area.len(), Params::DEFAULT.block_count());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_past_the_wait_are_refused_busy() {
        let h = Hasher::new(1, Duration::from_millis(1)).unwrap();
        let phc = hash_password("pw-1234567890").unwrap();
        let many: Vec<_> = (0..8)
            .map(|_| {
                let (h, phc) = (h.clone(), phc.clone());
                tokio::spawn(async move { h.verify("x".into(), Some(phc)).await })
            })
            .collect();
        let mut busy = 0;
        for t in many {
            if t.await.unwrap().is_err() {
                busy += 1;
            }
        }
        assert!(
            busy > 0,
            "one permit and a 1 ms wait: some callers are refused"
        );
        assert_eq!(h.available(), 1, "every permit comes back");
    }
}
