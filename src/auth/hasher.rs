//! Bounded password hashing off the async worker threads.
//!
//! This module owns *where and how many*: every hash or verification from [`super::password`]
//! costs about 20 ms of CPU and 19 MiB, so run on the async workers it would stall every other
//! request, and queued without bound it would grow memory under a sign-in flood. A [`Hasher`]
//! runs at most `concurrency` of them at once on its own `concurrency` threads, lets at most
//! `queue` more callers wait, and answers anyone beyond that with [`HashError::Busy`] at once
//! (the web layer turns that into 503 with `Retry-After`).
//!
//! Own threads rather than tokio's blocking pool: the allocator keeps a freed 19 MiB block in
//! the arena of the thread that used it, so hashes spread over the blocking pool's many threads
//! left a block in each (a 500-connection sign-in flood peaked at 507 MiB). A fixed set of
//! threads bounds that to one block per thread (`bench/run`, measurement 5).
//!
//! It does not know hash formats or password rules; those live in [`super::password`] and
//! [`super::policy`]. It holds the installation's [`Pepper`], given at construction, because
//! every hash goes through it: nothing else needs to carry the secret. Passwords arrive as [`SecretString`] and are only exposed inside the
//! blocking task; nothing here logs them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Semaphore;

use super::password::{self, PasswordError, Pepper, Verification};

/// Why a hash or verification through the [`Hasher`] did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// As many callers as allowed are already hashing or waiting; try again shortly.
    #[error("too many passwords are being checked right now; try again shortly")]
    Busy,
    /// The password functions refused (unusable stored hash, hashing library failure).
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The blocking task failed (it panicked or the runtime is shutting down).
    #[error("the password hashing task failed: {0}")]
    Unexpected(String),
}

/// A bounded pool for password hashing. Cloning is cheap and shares the same bounds.
#[derive(Clone, Debug)]
pub struct Hasher {
    inner: Arc<Inner>,
}

/// Work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug)]
struct Inner {
    /// The hashing threads' queue; they exit when the last `Hasher` clone is dropped.
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
    /// One permit per hash allowed to run at once. Shared by `Arc` so that permits can move
    /// into the blocking task.
    running: Arc<Semaphore>,
    /// Callers admitted and not yet finished: running plus waiting for a permit.
    admitted: AtomicUsize,
    /// Most callers admitted at once: concurrency plus queue.
    limit: usize,
    /// The secret keying every new hash (ASVS 2.4.5); shared with the jobs by `Arc`.
    pepper: Arc<Pepper>,
}

/// One admitted caller. Dropping it gives the slot back, whether the work finished, failed,
/// panicked or the caller's future was dropped while waiting.
struct Admission {
    inner: Arc<Inner>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.inner.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Hasher {
    /// A pool that runs at most `concurrency` hashes at once (at least one; about one per core
    /// is right) and lets at most `queue` further callers wait for a turn, keying new hashes
    /// with `pepper` (the server passes [`Pepper::derive`] of its sealing key).
    #[must_use]
    pub fn new(concurrency: usize, queue: usize, pepper: Pepper) -> Self {
        // `Semaphore::new` panics above MAX_PERMITS; a misconfigured number must not crash us.
        let concurrency = concurrency.clamp(1, Semaphore::MAX_PERMITS);
        let (jobs, queue_rx) = std::sync::mpsc::channel::<Job>();
        let queue_rx = Arc::new(std::sync::Mutex::new(queue_rx));
        for n in 0..concurrency {
            let queue_rx = Arc::clone(&queue_rx);
            let spawned = std::thread::Builder::new()
                .name(format!("portcullis-hash-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while taking a job, never while running it.
                        let job = queue_rx
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self {
            inner: Arc::new(Inner {
                jobs: std::sync::Mutex::new(jobs),
                running: Arc::new(Semaphore::new(concurrency)),
                admitted: AtomicUsize::new(0),
                limit: concurrency.saturating_add(queue),
                pepper: Arc::new(pepper),
            }),
        }
    }

    /// Callers currently hashing or waiting for a turn (for diagnostics).
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.inner.admitted.load(Ordering::Acquire)
    }

    /// The most callers that may be hashing or waiting at once (`concurrency + queue`).
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.inner.limit
    }

    /// Hashes a new password with the current parameters, off the async threads.
    ///
    /// # Errors
    /// [`HashError::Busy`] when the pool and its queue are full; otherwise hashing failures.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        let pepper = Arc::clone(&self.inner.pepper);
        let hashed = self
            .run(move || password::hash_password(password.expose_secret(), &pepper))
            .await?;
        Ok(hashed?)
    }

    /// Verifies a password against a stored hash, off the async threads.
    ///
    /// `stored` is `None` for an unknown account: the same verification work is done against a
    /// dummy hash and the answer is [`Verification::Mismatch`], so the time taken does not
    /// reveal whether the account exists.
    ///
    /// # Errors
    /// [`HashError::Busy`] when the pool and its queue are full; [`HashError::Password`] when
    /// the stored hash is unusable.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<Verification, HashError> {
        let pepper = Arc::clone(&self.inner.pepper);
        let outcome = self
            .run(move || {
                if let Some(stored) = stored {
                    password::verify_password(password.expose_secret(), &stored, &pepper)
                } else {
                    password::burn_verification(password.expose_secret());
                    Ok(Verification::Mismatch)
                }
            })
            .await?;
        Ok(outcome?)
    }

    /// Takes an admission slot, or fails with `Busy` without waiting when none is free.
    fn admit(&self) -> Result<Admission, HashError> {
        // Increment only while under the limit, so "running + waiting" never exceeds it even
        // for a moment (a plain fetch_add followed by a check could overshoot under a race).
        self.inner
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.inner.limit).then_some(n + 1)
            })
            .map_err(|_| HashError::Busy)?;
        Ok(Admission {
            inner: Arc::clone(&self.inner),
        })
    }

    /// Runs `work` on a blocking thread once admitted and given a permit.
    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admission = self.admit()?;
        // If the caller's future is dropped while waiting here, `admission` is dropped with it
        // and the queue slot comes back.
        let permit = Arc::clone(&self.inner.running)
            .acquire_owned()
            .await
            .map_err(|_| HashError::Unexpected("the hashing pool is closed".to_owned()))?;
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The job, not the caller, holds the permit and the slot: once started, a hash keeps
            // the CPU busy until it ends even if the caller has gone away, so releasing them at
            // cancellation would let abandoned hashes pile up unbounded.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            // Free the slot before answering, so a caller that looks right after sees it free.
            drop(permit);
            drop(admission);
            let _ = done.send(result);
        });
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| HashError::Unexpected("the hashing threads have stopped".to_owned()))?;
        match answer.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(HashError::Unexpected(
                "the hashing task panicked".to_owned(),
            )),
            Err(_) => Err(HashError::Unexpected(
                "the hashing task was lost".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn pepper() -> Pepper {
        Pepper::from_bytes([3; 32])
    }

    /// Yields to the scheduler until `ready` holds; the bound keeps a broken test from hanging.
    async fn wait_until(ready: impl Fn() -> bool) {
        for _ in 0..10_000 {
            if ready() {
                return;
            }
            tokio::task::yield_now().await;
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("condition not reached");
    }

    #[tokio::test]
    async fn hash_and_verify_round_trip() {
        let hasher = Hasher::new(2, 2, pepper());
        let hash = hasher.hash(secret("pw")).await.unwrap();
        assert_eq!(
            hasher
                .verify(secret("pw"), Some(hash.clone()))
                .await
                .unwrap(),
            Verification::Match {
                needs_upgrade: false
            }
        );
        assert_eq!(
            hasher.verify(secret("nope"), Some(hash)).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(hasher.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_hash_made_by_one_installation_does_not_verify_with_another_key() {
        let ours = Hasher::new(1, 0, pepper());
        let theirs = Hasher::new(1, 0, Pepper::from_bytes([4; 32]));
        let hash = ours.hash(secret("tidal-Quartz-lantern-91")).await.unwrap();
        assert!(hash.contains(",keyid="), "{hash}");
        assert_eq!(
            theirs
                .verify(secret("tidal-Quartz-lantern-91"), Some(hash))
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn unknown_account_is_mismatch() {
        let hasher = Hasher::new(1, 0, pepper());
        assert_eq!(
            hasher.verify(secret("pw"), None).await.unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn unusable_stored_hash_is_a_password_error() {
        let hasher = Hasher::new(1, 0, pepper());
        assert!(matches!(
            hasher.verify(secret("pw"), Some("garbage".into())).await,
            Err(HashError::Password(PasswordError::UnknownFormat))
        ));
        assert_eq!(hasher.in_flight(), 0);
    }

    #[tokio::test]
    async fn full_pool_answers_busy_and_releases_slots_afterwards() {
        let hasher = Hasher::new(1, 0, pepper());
        assert_eq!(hasher.capacity(), 1);
        let stored = password::hash_password("pw", &pepper()).unwrap();
        let (a, b, c, d) = tokio::join!(
            hasher.verify(secret("pw"), Some(stored.clone())),
            hasher.verify(secret("pw"), Some(stored.clone())),
            hasher.verify(secret("pw"), None),
            hasher.verify(secret("pw"), Some(stored.clone())),
        );
        let results = [a, b, c, d];
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(HashError::Busy)))
            .count();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert!(busy >= 1 && ok >= 1, "busy {busy}, ok {ok}");
        assert_eq!(busy + ok, 4);

        assert_eq!(hasher.in_flight(), 0);
        assert_eq!(
            hasher.verify(secret("pw"), Some(stored)).await.unwrap(),
            Verification::Match {
                needs_upgrade: false
            }
        );
    }

    #[tokio::test]
    async fn zero_concurrency_still_runs_one() {
        let hasher = Hasher::new(0, 0, pepper());
        assert!(hasher.hash(secret("pw")).await.is_ok());
    }

    #[tokio::test]
    async fn cancelled_waiter_releases_its_slot() {
        let hasher = Hasher::new(1, 0, pepper());
        // Stand in for a long-running hash by holding the only permit.
        let held = Arc::clone(&hasher.inner.running)
            .acquire_owned()
            .await
            .unwrap();

        let waiter = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.verify(secret("pw"), None).await })
        };
        wait_until(|| hasher.in_flight() == 1).await;
        // The waiter fills the only slot, so the next caller is refused at once.
        assert!(matches!(
            hasher.verify(secret("pw"), None).await,
            Err(HashError::Busy)
        ));

        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(hasher.in_flight(), 0);

        drop(held);
        assert_eq!(
            hasher.verify(secret("pw"), None).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(hasher.in_flight(), 0);
    }

    #[tokio::test]
    async fn cancelled_running_work_keeps_its_slot_until_it_ends() {
        let hasher = Hasher::new(1, 0, pepper());
        // Work that runs until the test lets it finish, standing in for a slow hash.
        let (finish, finished) = std::sync::mpsc::channel::<()>();
        let running = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.run(move || finished.recv()).await })
        };
        wait_until(|| hasher.inner.running.available_permits() == 0).await;
        running.abort();
        assert!(running.await.unwrap_err().is_cancelled());
        // The caller is gone but its work still occupies a thread, so it still counts.
        assert_eq!(hasher.in_flight(), 1);
        assert!(matches!(
            hasher.verify(secret("pw"), None).await,
            Err(HashError::Busy)
        ));

        finish.send(()).unwrap();
        wait_until(|| hasher.in_flight() == 0).await;
        assert_eq!(hasher.inner.running.available_permits(), 1);
    }
}
