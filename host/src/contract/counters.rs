//! A server's failure bookkeeping: attempts, failures in a row, failures in a sliding window,
//! first-failure time and Ready-since, turned into the `FailureEvent` a policy decides on. The
//! supervisor keeps one per server; `policy test` replays scenarios through the same counters.
//!
//! Pure values: the caller passes the time in, so tests need no clock.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{Failure, FailureEvent, Transport};

/// Counters since the server was (re)started or (re)configured.
#[derive(Debug, Clone)]
pub struct FailureCounters {
    /// Connection attempts, 1-based once the first one began.
    pub attempts: u32,
    pub consecutive_failures: u32,
    /// When the current run of consecutive failures began.
    first_failure: Option<Instant>,
    /// Times of the failures still inside the window.
    recent: VecDeque<Instant>,
    window: Duration,
    /// When the server last became Ready, while it is (or was, in this run) Ready.
    ready_since: Option<Instant>,
}

impl FailureCounters {
    pub fn new(window: Duration) -> Self {
        FailureCounters {
            attempts: 0,
            consecutive_failures: 0,
            first_failure: None,
            recent: VecDeque::new(),
            window,
            ready_since: None,
        }
    }

    /// Forget everything (restart, new connection settings, re-enabled by the user).
    pub fn reset(&mut self) {
        *self = FailureCounters::new(self.window);
    }

    /// A connection attempt begins; returns its number.
    pub fn begin_attempt(&mut self) -> u32 {
        self.attempts = self.attempts.saturating_add(1);
        self.attempts
    }

    /// The handshake succeeded: the run of failures ends.
    pub fn ready(&mut self, now: Instant) {
        self.consecutive_failures = 0;
        self.first_failure = None;
        self.ready_since = Some(now);
    }

    /// Record `failure` at `now` and describe it for the policy.
    pub fn fail(
        &mut self,
        now: Instant,
        server: &str,
        transport: Transport,
        failure: &Failure,
        seed: u64,
    ) -> FailureEvent {
        let ready_for = self
            .ready_since
            .take()
            .map(|since| now.saturating_duration_since(since));
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let first = *self.first_failure.get_or_insert(now);
        self.recent.push_back(now);
        while let Some(&oldest) = self.recent.front() {
            if now.saturating_duration_since(oldest) > self.window {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        FailureEvent {
            server: server.to_string(),
            transport,
            kind: failure.kind,
            detail: failure.detail.clone(),
            exit_code: failure.exit_code,
            http_status: failure.http_status,
            attempt: self.attempts.max(1),
            consecutive_failures: self.consecutive_failures,
            failures_in_window: u32::try_from(self.recent.len()).unwrap_or(u32::MAX),
            window: self.window,
            since_first_failure: now.saturating_duration_since(first),
            ready_for,
            seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::FailureKind;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn failure_events_carry_the_counters() {
        let t0 = Instant::now();
        let fail = Failure::new(FailureKind::ExitedBeforeHandshake, "boom").with_exit_code(Some(3));
        let mut c = FailureCounters::new(secs(60));

        // (offset from t0, action, expected (attempt, consecutive, in window, since first, ready_for))
        enum Step {
            Attempt,
            Ready,
            Fail(u32, u32, u32, u64, Option<u64>),
        }
        let steps = [
            (0, Step::Attempt),
            (0, Step::Fail(1, 1, 1, 0, None)),
            (10, Step::Attempt),
            (10, Step::Fail(2, 2, 2, 10, None)),
            (20, Step::Attempt),
            (20, Step::Ready),
            (50, Step::Fail(3, 1, 3, 0, Some(30))),
            // the failures at 0 and 10 have left the 60 s window
            (75, Step::Attempt),
            (75, Step::Fail(4, 2, 2, 25, None)),
        ];
        for (at, step) in steps {
            let now = t0 + secs(at);
            match step {
                Step::Attempt => {
                    c.begin_attempt();
                }
                Step::Ready => c.ready(now),
                Step::Fail(attempt, consecutive, in_window, since, ready_for) => {
                    let e = c.fail(now, "srv", Transport::Stdio, &fail, 7);
                    assert_eq!(e.attempt, attempt, "attempt at {at}");
                    assert_eq!(e.consecutive_failures, consecutive, "consecutive at {at}");
                    assert_eq!(e.failures_in_window, in_window, "window at {at}");
                    assert_eq!(e.since_first_failure, secs(since), "since first at {at}");
                    assert_eq!(e.ready_for, ready_for.map(secs), "ready_for at {at}");
                    assert_eq!(e.exit_code, Some(3));
                    assert_eq!(e.kind, FailureKind::ExitedBeforeHandshake);
                    assert_eq!(e.seed, 7);
                    assert_eq!(e.window, secs(60));
                }
            }
        }
        c.reset();
        assert_eq!((c.attempts, c.consecutive_failures), (0, 0));
    }
}
