//! What an actor tells the log about its server's connection, without flooding it: a failure
//! is reported at warn and a recovery at info; while the server keeps flapping, further ones
//! of the same kind go to debug for `QUIET`, and the next report says how many were held.
//! (200 flapping servers used to write tens of MB an hour at info.) Auto-disables and crashes
//! are always reported.

use std::time::Duration;

use tokio::time::Instant;

/// How long after a report the same server's next failures and recoveries stay at debug.
pub const QUIET: Duration = Duration::from_secs(600);

/// One server's report throttle.
#[derive(Debug, Default)]
pub struct Throttle {
    last: Option<Instant>,
    held: u32,
}

impl Throttle {
    /// Whether an event at `now` is reported at its level; `Some(n)` says `n` events were held
    /// back since the last report. Pure but for the state it keeps.
    pub fn admit(&mut self, now: Instant) -> Option<u32> {
        match self.last {
            Some(at) if now.saturating_duration_since(at) < QUIET => {
                self.held = self.held.saturating_add(1);
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held))
            }
        }
    }

    /// The user acted on the server (restart, new settings): its next event is news.
    pub fn reset(&mut self) {
        *self = Throttle::default();
    }
}

/// A server's two throttles: one for failures, one for recoveries.
#[derive(Debug, Default)]
pub struct Reports {
    pub failures: Throttle,
    pub recoveries: Throttle,
}

impl Reports {
    /// The user acted on the server: its next failure and recovery are news.
    pub fn reset(&mut self) {
        self.failures.reset();
        self.recoveries.reset();
    }
}

/// " (N more like it since the last report)", or nothing.
pub fn held_note(held: u32) -> String {
    if held == 0 {
        String::new()
    } else {
        format!(" ({held} more like it since the last report)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_report_per_quiet_period_with_the_count_held() {
        let t0 = Instant::now();
        let mut t = Throttle::default();
        assert_eq!(t.admit(t0), Some(0), "the first event is news");
        assert_eq!(t.admit(t0 + Duration::from_secs(5)), None);
        assert_eq!(t.admit(t0 + Duration::from_secs(300)), None);
        assert_eq!(t.admit(t0 + QUIET), Some(2));
        assert_eq!(t.admit(t0 + QUIET + Duration::from_secs(1)), None);
        t.reset();
        assert_eq!(t.admit(t0 + QUIET + Duration::from_secs(2)), Some(0));
        assert_eq!(held_note(0), "");
        assert!(held_note(3).contains("3 more"));
    }
}
