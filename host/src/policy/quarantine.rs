//! Quarantine of a misbehaving custom policy: after `failures` failed decisions within
//! `window`, only the embedded default decides until a backoff has passed; then the custom
//! policy gets another chance. Each quarantine in a row doubles the backoff, up to `max`;
//! a successful decision after release resets it.
//!
//! Pure: the caller passes `now`, so the state machine is tested without waiting.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// When to quarantine and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineSettings {
    /// Failed decisions within `window` that trigger a quarantine.
    pub failures: u32,
    pub window: Duration,
    /// The first quarantine's length; each one in a row doubles it.
    pub initial: Duration,
    /// The longest quarantine.
    pub max: Duration,
}

impl Default for QuarantineSettings {
    fn default() -> Self {
        QuarantineSettings {
            failures: 3,
            window: Duration::from_secs(60),
            initial: Duration::from_secs(30),
            max: Duration::from_secs(60 * 60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Quarantine {
    settings: QuarantineSettings,
    recent: VecDeque<Instant>,
    until: Option<Instant>,
    /// Quarantines in a row, without a success in between.
    level: u32,
    total: u64,
}

impl Quarantine {
    pub fn new(settings: QuarantineSettings) -> Self {
        Quarantine {
            settings,
            recent: VecDeque::new(),
            until: None,
            level: 0,
            total: 0,
        }
    }

    /// May the custom policy decide at `now`?
    pub fn allows(&self, now: Instant) -> bool {
        self.until.is_none_or(|until| now >= until)
    }

    /// Records a failed custom decision; returns the quarantine's end if one starts now.
    pub fn record_failure(&mut self, now: Instant) -> Option<Instant> {
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > self.settings.window)
        {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        let released = self.until.is_some_and(|u| now >= u);
        // A failure on probation (just released) re-quarantines at once.
        if released || self.recent.len() >= self.settings.failures.max(1) as usize {
            let factor = 1u32.checked_shl(self.level.min(20)).unwrap_or(u32::MAX);
            let length = self
                .settings
                .initial
                .saturating_mul(factor)
                .min(self.settings.max);
            let until = now + length;
            self.until = Some(until);
            self.level += 1;
            self.total += 1;
            self.recent.clear();
            return Some(until);
        }
        None
    }

    /// Records a good custom decision: after a release, the custom policy is trusted again.
    pub fn record_success(&mut self, now: Instant) {
        if self.until.is_some_and(|u| now >= u) {
            self.until = None;
            self.level = 0;
        }
    }

    /// A snapshot for `status`.
    pub fn state(&self, now: Instant) -> QuarantineState {
        let remaining = self
            .until
            .and_then(|u| u.checked_duration_since(now))
            .filter(|d| !d.is_zero());
        QuarantineState {
            quarantined: remaining.is_some(),
            remaining_ms: remaining.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            level: self.level,
            quarantines: self.total,
            recent_failures: self.recent.len(),
        }
    }
}

/// The quarantine as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuarantineState {
    pub quarantined: bool,
    /// Until the custom policy is tried again.
    pub remaining_ms: Option<u64>,
    /// Quarantines in a row.
    pub level: u32,
    /// Quarantines since the policy was loaded.
    pub quarantines: u64,
    /// Failures counted towards the next quarantine.
    pub recent_failures: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> QuarantineSettings {
        QuarantineSettings {
            failures: 3,
            window: Duration::from_secs(10),
            initial: Duration::from_secs(5),
            max: Duration::from_secs(15),
        }
    }

    #[test]
    fn quarantines_after_failures_in_window_and_backs_off() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut q = Quarantine::new(settings());
        // Two failures, then one after the window: still fine.
        assert_eq!(q.record_failure(s(0)), None);
        assert_eq!(q.record_failure(s(1)), None);
        assert_eq!(q.record_failure(s(20)), None);
        assert!(q.allows(s(20)));
        // Three within the window: quarantined for 5 s.
        assert_eq!(q.record_failure(s(21)), None);
        assert_eq!(q.record_failure(s(22)), Some(s(27)));
        assert!(!q.allows(s(26)));
        assert!(q.state(s(26)).quarantined);
        // Released at 27; failing on probation doubles the quarantine.
        assert!(q.allows(s(27)));
        assert_eq!(q.record_failure(s(28)), Some(s(38)));
        // Again: capped at 15 s.
        assert_eq!(q.record_failure(s(38)), Some(s(53)));
        assert_eq!(q.state(s(40)).quarantines, 3);
        // A success after release resets the level.
        q.record_success(s(53));
        assert_eq!(q.state(s(53)).level, 0);
        assert!(!q.state(s(53)).quarantined);
        assert_eq!(q.record_failure(s(54)), None);
    }

    #[test]
    fn success_during_quarantine_does_not_release() {
        let t0 = Instant::now();
        let mut q = Quarantine::new(settings());
        for i in 0..3 {
            q.record_failure(t0 + Duration::from_millis(i));
        }
        q.record_success(t0 + Duration::from_secs(1));
        assert!(!q.allows(t0 + Duration::from_secs(1)));
    }
}
