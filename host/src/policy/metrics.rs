//! Decision counters and the latency histogram behind `status` and metrics.
//!
//! Lock-free atomics, bumped on every decision; reads are snapshots for reporting only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use super::per_hook::Hook;
use super::validate::FailureClass;

/// How a decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The active policy answered.
    Ok,
    /// The active policy failed this way; answered as `on_failure` says.
    Fallback(FailureClass),
    /// The active policy is quarantined; answered as `on_failure` says.
    Quarantined,
}

impl Outcome {
    const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::Fallback(FailureClass::Trap),
        Outcome::Fallback(FailureClass::Timeout),
        Outcome::Fallback(FailureClass::Limit),
        Outcome::Fallback(FailureClass::Invalid),
        Outcome::Quarantined,
    ];

    fn index(self) -> usize {
        match self {
            Outcome::Ok => 0,
            Outcome::Fallback(FailureClass::Trap) => 1,
            Outcome::Fallback(FailureClass::Timeout) => 2,
            Outcome::Fallback(FailureClass::Limit) => 3,
            Outcome::Fallback(FailureClass::Invalid) => 4,
            Outcome::Quarantined => 5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fallback(c) => c.as_str(),
            Outcome::Quarantined => "quarantined",
        }
    }
}

/// Upper bounds of the latency buckets, in µs; one more bucket counts everything above.
pub const LATENCY_BUCKETS_US: [u64; 11] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000,
];

#[derive(Debug, Default)]
pub struct Metrics {
    decisions: [[AtomicU64; 6]; Hook::ALL.len()],
    latency: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    /// Total decision time, for the histogram's sum.
    latency_sum_us: AtomicU64,
    /// Backoffs answered below the floor and raised to it.
    backoffs_clamped: AtomicU64,
}

/// One histogram bucket: decisions that took at most `le_us` (`None`: more than the last).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LatencyBucket {
    pub le_us: Option<u64>,
    pub count: u64,
}

impl Metrics {
    pub fn record(&self, hook: Hook, outcome: Outcome, took: Duration) {
        let h = Hook::ALL.iter().position(|x| *x == hook).unwrap_or(0);
        self.decisions[h][outcome.index()].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let b = LATENCY_BUCKETS_US
            .iter()
            .position(|le| us <= *le)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.latency[b].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    pub fn record_clamp(&self) {
        self.backoffs_clamped.fetch_add(1, Ordering::Relaxed);
    }

    pub fn backoffs_clamped(&self) -> u64 {
        self.backoffs_clamped.load(Ordering::Relaxed)
    }

    /// Total time of all decisions, in µs.
    pub fn latency_sum_us(&self) -> u64 {
        self.latency_sum_us.load(Ordering::Relaxed)
    }

    /// Decisions by hook, then outcome; zero counts left out.
    pub fn decisions(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for (h, hook) in Hook::ALL.iter().enumerate() {
            let mut by_outcome = BTreeMap::new();
            for outcome in Outcome::ALL {
                let n = self.decisions[h][outcome.index()].load(Ordering::Relaxed);
                if n > 0 {
                    by_outcome.insert(outcome.as_str().to_string(), n);
                }
            }
            out.insert(hook.as_str().to_string(), by_outcome);
        }
        out
    }

    /// Decisions the default made because the active policy failed or was quarantined.
    pub fn fallbacks(&self) -> u64 {
        self.decisions
            .iter()
            .flat_map(|row| row[1..].iter())
            .map(|n| n.load(Ordering::Relaxed))
            .sum()
    }

    pub fn latency(&self) -> Vec<LatencyBucket> {
        self.latency
            .iter()
            .enumerate()
            .map(|(i, n)| LatencyBucket {
                le_us: LATENCY_BUCKETS_US.get(i).copied(),
                count: n.load(Ordering::Relaxed),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_hook_outcome_and_bucket() {
        let m = Metrics::default();
        m.record(Hook::Backoff, Outcome::Ok, Duration::from_micros(7));
        m.record(Hook::Backoff, Outcome::Ok, Duration::from_micros(30));
        m.record(
            Hook::FilterReload,
            Outcome::Fallback(FailureClass::Timeout),
            Duration::from_millis(12),
        );
        m.record(
            Hook::ShouldDisable,
            Outcome::Quarantined,
            Duration::from_secs(1),
        );
        let d = m.decisions();
        assert_eq!(d["backoff"]["ok"], 2);
        assert_eq!(d["filter-reload"]["timeout"], 1);
        assert_eq!(d["should-disable"]["quarantined"], 1);
        assert_eq!(m.fallbacks(), 2);
        let l = m.latency();
        assert_eq!(
            l[0],
            LatencyBucket {
                le_us: Some(10),
                count: 1
            }
        );
        assert_eq!(l[2].count, 1, "30 µs lands in ≤ 50");
        assert_eq!(l[10].count, 1, "12 ms lands in ≤ 25 ms");
        assert_eq!(
            l[11],
            LatencyBucket {
                le_us: None,
                count: 1
            }
        );
    }
}
