//! A decision's time budget, counted in CPU time on its own thread.
//!
//! Epochs tick in wall-clock time: on a loaded machine (a start-up storm of upstream servers
//! is exactly when decisions happen) a thread can be preempted mid-decision for longer than
//! the whole deadline, and a good policy would time out and fall back. So when the epoch
//! deadline passes, the callback asks how much CPU the thread actually spent: under the
//! budget, the decision gets another tick; over it, or past a wall-clock cap of
//! `WALL_CAP_FACTOR` budgets, it is interrupted. CPU time is only asked once the wall-clock
//! deadline has passed, so it can lengthen a call, never cut one short.

use std::time::{Duration, Instant};

use nix::time::{ClockId, clock_gettime};

/// The longest a decision may take in wall-clock time, in budgets.
pub const WALL_CAP_FACTOR: u32 = 10;

/// Started with the decision's `Store`, on the thread that runs it.
#[derive(Debug, Clone, Copy)]
pub struct CpuDeadline {
    cpu_start: Duration,
    budget: Duration,
    wall_cap: Instant,
}

impl CpuDeadline {
    pub fn start(budget: Duration) -> CpuDeadline {
        CpuDeadline {
            cpu_start: thread_cpu_time(),
            budget,
            wall_cap: Instant::now() + budget * WALL_CAP_FACTOR,
        }
    }

    /// The epoch deadline passed: may the decision run for another tick?
    pub fn extend(&self) -> bool {
        may_continue(
            thread_cpu_time().saturating_sub(self.cpu_start),
            self.budget,
            Instant::now(),
            self.wall_cap,
        )
    }
}

/// The decision: CPU left in the budget, and the wall-clock cap not reached.
fn may_continue(cpu_used: Duration, budget: Duration, now: Instant, wall_cap: Instant) -> bool {
    cpu_used < budget && now < wall_cap
}

/// CPU time this thread has used. Without a thread clock (never on Linux), zero: the
/// wall-clock cap still ends a runaway decision.
fn thread_cpu_time() -> Duration {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preempted_decisions_continue_until_they_used_their_cpu_or_hit_the_cap() {
        let ms = Duration::from_millis;
        let now = Instant::now();
        let cap = now + ms(100);
        assert!(
            may_continue(ms(2), ms(10), now, cap),
            "preempted, not spinning"
        );
        assert!(!may_continue(ms(10), ms(10), now, cap), "used its budget");
        assert!(
            !may_continue(ms(2), ms(10), cap, cap),
            "past the wall-clock cap"
        );
    }

    #[test]
    fn a_spinning_thread_uses_its_budget() {
        let d = CpuDeadline::start(Duration::from_millis(20));
        while d.extend() {
            std::hint::spin_loop();
        }
        // Stopped by its CPU use (at least the budget of it), not by the 200 ms cap alone.
        // (No comparison with wall time: in a VM the thread clock can run ahead of it.)
        assert!(thread_cpu_time() >= d.cpu_start + Duration::from_millis(20));
    }
}
