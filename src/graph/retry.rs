//! The one retry/backoff policy: how many attempts, until when, and how long to wait between
//! them (the server's `Retry-After` when it gives a usable one, else jittered exponential
//! backoff). Single requests, `$batch` entries, replication waits of writes and the plan's
//! wait for fresh objects all run their loops through [`Attempts`].

use std::time::{Duration, Instant};

use super::RetryAfter;

/// Retry behaviour for throttling and transient failures, and the bounds of what one
/// answer may cost.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts after this much time has passed since the first attempt, and no
    /// `Retry-After` that would end beyond it is waited for.
    pub deadline: Duration,
    /// Pages of one collection followed at most (a server looping its nextLinks stops here).
    pub max_pages: usize,
    /// Largest response body read; a longer one is an error, not a memory spike.
    pub max_body: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            deadline: Duration::from_secs(300),
            // 1,000 pages of Graph's largest page size (999) is about a million objects:
            // far beyond any tenant's groups, packages or policies the tool reads.
            max_pages: 1_000,
            max_body: 64 * 1024 * 1024,
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with full jitter before retry number `attempt` (1-based).
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16).saturating_sub(1));
        let cap = exp.min(self.max_delay);
        let jitter: f64 = rand::random();
        cap.mul_f64(0.5 + jitter / 2.0)
    }

    /// How long to wait before retry `attempt` of a sequence begun at `started`: the
    /// server's `Retry-After` when usable, else backoff. `Err` carries the reason when the
    /// wait would end beyond the deadline (the caller fails at once instead of sleeping).
    fn wait(
        &self,
        attempt: u32,
        started: Instant,
        retry_after: RetryAfter,
    ) -> Result<Duration, BeyondDeadline> {
        let left = self.deadline.saturating_sub(started.elapsed());
        match retry_after.duration() {
            Some(d) if d > left => Err(BeyondDeadline {
                asked: d.as_secs(),
                left: left.as_secs(),
                deadline: self.deadline.as_secs(),
            }),
            Some(d) => Ok(d),
            None => Ok(self.backoff(attempt).min(left)),
        }
    }

    /// Polling for something replication will make visible (a referenced object created
    /// moments ago): 100 ms doubling to 5 s, for as long as `deadline` allows.
    pub fn replication(deadline: Duration) -> Self {
        Self {
            max_attempts: u32::MAX,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            deadline,
            ..Self::default()
        }
    }

    /// Starts one retry sequence under this policy; its clock starts now.
    pub fn start(&self) -> Attempts<'_> {
        Attempts {
            policy: self,
            started: Instant::now(),
            attempt: 0,
            waits: 0,
        }
    }
}

/// One retry sequence: counts attempts and waits, and knows when it began.
#[derive(Debug)]
pub struct Attempts<'a> {
    policy: &'a RetryPolicy,
    started: Instant,
    attempt: u32,
    waits: u32,
}

impl Attempts<'_> {
    /// Counts a new attempt; returns its number (1-based).
    pub fn begin(&mut self) -> u32 {
        self.attempt += 1;
        self.attempt
    }

    /// Attempts begun so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Waits slept so far (zero: the first attempt succeeded or failed for good).
    pub fn waits(&self) -> u32 {
        self.waits
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// What is left of the deadline.
    pub fn left(&self) -> Duration {
        self.policy.deadline.saturating_sub(self.elapsed())
    }

    /// Whether the deadline has not passed yet.
    pub fn in_time(&self) -> bool {
        self.elapsed() < self.policy.deadline
    }

    /// Whether another attempt may start: attempts and time are left.
    pub fn can_retry(&self) -> bool {
        self.attempt < self.policy.max_attempts && self.in_time()
    }

    /// Sleeps before the next attempt: `retry_after` when usable, else backoff, never past
    /// the deadline. `Err` carries the reason, without sleeping, when the server asks for a
    /// wait that would end beyond the deadline.
    pub async fn pause(&mut self, retry_after: RetryAfter) -> Result<Duration, BeyondDeadline> {
        // Backoff grows with the waits of this sequence; a sequence that counts no attempts
        // (polling) still backs off.
        let step = self.attempt.max(self.waits + 1);
        let delay = self.policy.wait(step, self.started, retry_after)?;
        self.waits += 1;
        tokio::time::sleep(delay).await;
        Ok(delay)
    }
}

/// The server asked for a wait (`Retry-After`) that would end after the run's deadline, so
/// the caller fails at once rather than sleeping for nothing. Seconds throughout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the service asked to wait {asked} s, beyond the run's deadline ({left} s left of {deadline} s)"
)]
pub struct BeyondDeadline {
    asked: u64,
    left: u64,
    deadline: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn polling_backs_off_and_stops_at_the_deadline() {
        let policy = RetryPolicy::replication(Duration::from_millis(400));
        let mut tries = policy.start();
        let mut delays = vec![];
        while tries.in_time() {
            delays.push(tries.pause(RetryAfter::Unusable).await.unwrap_or_default());
        }
        // 100 ms doubling (jittered to 50–100 %), the last pause cut to what was left.
        assert!(delays.len() >= 2, "{delays:?}");
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
        assert!(delays[1] >= Duration::from_millis(100), "{delays:?}");
        assert!(
            tries.elapsed() < Duration::from_millis(400 + 150),
            "{delays:?}"
        );
        assert_eq!(tries.waits() as usize, delays.len());
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_deadline_fails_at_once() {
        let policy = RetryPolicy {
            deadline: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        let mut tries = policy.start();
        tries.begin();
        let started = Instant::now();
        let asked = RetryAfter::Wait(Duration::from_secs(60));
        assert!(tries.pause(asked).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(1), "it slept");
        // A usable one within the deadline is honoured exactly, not replaced by backoff.
        let asked = RetryAfter::Wait(Duration::from_millis(20));
        assert_eq!(tries.pause(asked).await, Ok(Duration::from_millis(20)));
    }
}
