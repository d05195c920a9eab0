//! Bounded password hashing off the async threads.
//!
//! Argon2id costs ~20 ms of CPU and 19 MiB per hash. Run on the async workers it would stall
//! every other request; queued without bound it would grow memory under a sign-in flood. So at
//! most `concurrency` hashes run at once on blocking threads, at most `queue` more wait, and
//! anyone beyond that gets [`HashError::Busy`] at once (the web layer answers 503 with
//! `Retry-After`).

use super::password::{self, PasswordError, Verification};
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// Why hashing did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password hashes are queued")]
    Busy,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("the hashing task failed: {0}")]
    Unexpected(String),
}

/// The bounded hashing pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Hasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    running: Semaphore,
    /// Callers admitted (running or waiting).
    admitted: AtomicUsize,
    limit: usize,
}

/// Gives the admission slot back however the caller leaves (finished, failed or cancelled).
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Hasher {
    /// A pool running `concurrency` hashes at once (at least one) with `queue` waiting.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            inner: Arc::new(Inner {
                running: Semaphore::new(concurrency),
                admitted: AtomicUsize::new(0),
                limit: concurrency + queue,
            }),
        }
    }

    /// Callers currently hashing or waiting.
    pub fn in_flight(&self) -> usize {
        self.inner.admitted.load(Ordering::Acquire)
    }

    fn admit(&self) -> Result<Admission<'_>, HashError> {
        let admitted = &self.inner.admitted;
        let mut current = admitted.load(Ordering::Acquire);
        loop {
            if current >= self.inner.limit {
                return Err(HashError::Busy);
            }
            match admitted.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(Admission(admitted)),
                Err(seen) => current = seen,
            }
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _admission = self.admit()?;
        let _permit = self
            .inner
            .running
            .acquire()
            .await
            .map_err(|e| HashError::Unexpected(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| HashError::Unexpected(e.to_string()))
    }

    /// Hashes a new password.
    ///
    /// # Errors
    /// `Busy` when the queue is full; hashing failures.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        Ok(self
            .run(move || password::hash_password(password.expose_secret()))
            .await??)
    }

    /// Verifies a password; `None` (unknown account) costs the same and never matches.
    ///
    /// # Errors
    /// `Busy` when the queue is full; unusable stored hashes.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<Verification, HashError> {
        let outcome = self
            .run(move || match stored {
                Some(hash) => password::verify_password(password.expose_secret(), &hash),
                None => {
                    password::burn_verification(password.expose_secret());
                    Ok(Verification::Mismatch)
                }
            })
            .await?;
        Ok(outcome?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_and_frees_its_slots_afterwards() {
        let hasher = Hasher::new(1, 0);
        let stored = password::hash_password("pw").unwrap();
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let h = hasher.clone();
                let s = stored.clone();
                tokio::spawn(async move { h.verify(secret("pw"), Some(s)).await })
            })
            .collect();
        let mut busy = 0;
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Err(HashError::Busy) => busy += 1,
                Ok(Verification::Match { .. }) => ok += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!(busy >= 1 && ok >= 1, "busy {busy}, ok {ok}");
        assert_eq!(hasher.in_flight(), 0);
        assert!(hasher.verify(secret("pw"), Some(stored)).await.is_ok());
    }

    #[tokio::test]
    async fn a_cancelled_waiter_releases_its_slot() {
        let hasher = Hasher::new(1, 1);
        let fut = hasher.hash(secret("pw"));
        drop(fut);
        assert_eq!(hasher.in_flight(), 0);
        let slow = {
            let h = hasher.clone();
            tokio::spawn(async move { h.hash(secret("pw")).await })
        };
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(1),
            hasher.hash(secret("pw")),
        )
        .await;
        let _ = waiting;
        slow.await.unwrap().unwrap();
        assert_eq!(hasher.in_flight(), 0);
    }

    #[tokio::test]
    async fn unknown_accounts_never_match() {
        let hasher = Hasher::new(1, 4);
        assert_eq!(
            hasher.verify(secret("pw"), None).await.unwrap(),
            Verification::Mismatch
        );
    }
}
