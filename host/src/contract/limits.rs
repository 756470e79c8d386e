//! How a policy is held to account: the per-call limits every decision runs under, and who
//! answers when a policy fails them. One type for the limits wherever they are given (the
//! config's `policy` section, a bundle's manifest, a scenario, the command line), so the units
//! of those places (milliseconds, MiB) are converted in one place.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The per-call limits of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest a decision may run (CPU time).
    pub deadline: Duration,
    /// Linear memory cap per decision, in bytes.
    pub memory_limit: usize,
}

impl Limits {
    /// 10 ms and 16 MiB: what the embedded default and compiled Rust policies need with room
    /// to spare. JavaScript and Python policies ask for more in their config or manifest.
    pub const DEFAULT: Limits = Limits {
        deadline: Duration::from_millis(10),
        memory_limit: 16 << 20,
    };

    /// These limits with what `given` sets replaced (MiB saturate): the one conversion from
    /// the units of the files and the command line.
    pub fn with(self, given: GivenLimits) -> Limits {
        Limits {
            deadline: given
                .deadline_ms
                .map_or(self.deadline, Duration::from_millis),
            memory_limit: given.memory_limit_mib.map_or(self.memory_limit, |mib| {
                mib_to_bytes(mib).unwrap_or(usize::MAX)
            }),
        }
    }

    /// The memory cap in whole MiB, as the files spell it.
    pub fn memory_limit_mib(&self) -> u64 {
        (self.memory_limit >> 20) as u64
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Limits as the config's `policy` section, a bundle's manifest, a scenario or the command line
/// spell them (`deadline_ms`, `memory_limit_mib`); either may be left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GivenLimits {
    pub deadline_ms: Option<u64>,
    pub memory_limit_mib: Option<u64>,
}

/// `mib` MiB in bytes; `None` when that does not fit in memory at all.
fn mib_to_bytes(mib: u64) -> Option<usize> {
    usize::try_from(mib).ok()?.checked_mul(1 << 20)
}

/// What answers a decision the active policy failed (trap, timeout, limit, invalid answer)
/// or could not make (quarantined).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// The embedded default policy.
    #[default]
    FallbackToDefault,
    /// Fail closed: nothing is done that the policy did not decide. The server is not
    /// auto-disabled, its next attempt waits the longest backoff, config changes are ignored.
    Deny,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_once_and_saturate() {
        let given = |deadline_ms, memory_limit_mib| GivenLimits {
            deadline_ms,
            memory_limit_mib,
        };
        let l = Limits::DEFAULT.with(given(Some(200), Some(64)));
        assert_eq!(l.deadline, Duration::from_millis(200));
        assert_eq!(l.memory_limit, 64 << 20);
        assert_eq!(l.memory_limit_mib(), 64);
        assert_eq!(
            Limits::DEFAULT.with(GivenLimits::default()),
            Limits::DEFAULT
        );
        let only_deadline = l.with(given(Some(5), None));
        assert_eq!(
            (only_deadline.deadline, only_deadline.memory_limit),
            (Duration::from_millis(5), 64 << 20)
        );
        assert_eq!(
            Limits::DEFAULT
                .with(given(None, Some(u64::MAX)))
                .memory_limit,
            usize::MAX
        );
        assert_eq!(mib_to_bytes(u64::MAX), None);
    }
}
