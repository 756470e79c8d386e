//! Checks of a policy's answers, and the classification of failed calls.
//!
//! Pure: an answer the daemon could not act on sensibly (a backoff beyond a day, an empty
//! reason, the wrong number of verdicts) becomes an `Invalid` failure, which the host treats
//! like a trap: that decision falls back to the embedded default.

use std::fmt;
use std::time::Duration;

use crate::contract::{DisableDecision, ReviewDecision, ToolVerdict, Verdict};

/// The longest backoff a policy may ask for.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a call to a policy produced no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// The guest trapped (a panic, `unreachable`, a bad memory access) or could not be
    /// instantiated.
    Trap,
    /// The epoch deadline ran out.
    Timeout,
    /// A memory, table or instance limit was hit.
    Limit,
    /// The answer broke the contract.
    Invalid,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Trap => "trap",
            FailureClass::Timeout => "timeout",
            FailureClass::Limit => "limit",
            FailureClass::Invalid => "invalid",
        }
    }
}

/// A failed call, with what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    pub class: FailureClass,
    pub message: String,
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class.as_str(), self.message)
    }
}

impl CallFailure {
    pub fn invalid(message: impl Into<String>) -> Self {
        CallFailure {
            class: FailureClass::Invalid,
            message: message.into(),
        }
    }

    /// Classifies an error from instantiating or calling a component.
    pub fn from_wasmtime(e: &wasmtime::Error) -> Self {
        let message = format!("{e:#}");
        let class = if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
            FailureClass::Timeout
        } else if message.contains("forcing trap when growing")
            || message.contains("forcing a memory growth failure")
            || message.contains("forcing a table growth failure")
            || message.contains("resource limit exceeded")
        {
            FailureClass::Limit
        } else {
            FailureClass::Trap
        };
        CallFailure { class, message }
    }
}

pub fn check_disable(d: &DisableDecision) -> Result<(), CallFailure> {
    match d {
        DisableDecision::Disable { reason } if reason.trim().is_empty() => Err(
            CallFailure::invalid("should-disable answered `disable` with an empty reason"),
        ),
        _ => Ok(()),
    }
}

pub fn check_backoff(ms: u64) -> Result<Duration, CallFailure> {
    let d = Duration::from_millis(ms);
    if d > MAX_BACKOFF {
        return Err(CallFailure::invalid(format!(
            "backoff answered {ms} ms, more than the maximum of {} ms (24 h)",
            MAX_BACKOFF.as_millis()
        )));
    }
    Ok(d)
}

pub fn check_verdicts(verdicts: &[Verdict], changes: usize) -> Result<(), CallFailure> {
    if verdicts.len() != changes {
        return Err(CallFailure::invalid(format!(
            "filter-reload answered {} verdicts for {changes} changes",
            verdicts.len()
        )));
    }
    if let Some(i) = verdicts
        .iter()
        .position(|v| matches!(v, Verdict::Ignore { reason } if reason.trim().is_empty()))
    {
        return Err(CallFailure::invalid(format!(
            "filter-reload answered `ignore` with an empty reason for change {i}"
        )));
    }
    Ok(())
}

pub fn check_review(d: &ReviewDecision, tools: usize) -> Result<(), CallFailure> {
    match d {
        ReviewDecision::Quarantine { reason } if reason.trim().is_empty() => Err(
            CallFailure::invalid("review-tools answered `quarantine` with an empty reason"),
        ),
        ReviewDecision::Quarantine { .. } => Ok(()),
        ReviewDecision::PerTool(v) if v.len() != tools => Err(CallFailure::invalid(format!(
            "review-tools answered {} verdicts for {tools} tools",
            v.len()
        ))),
        ReviewDecision::PerTool(v) => match v
            .iter()
            .position(|v| matches!(v, ToolVerdict::Hide { reason } if reason.trim().is_empty()))
        {
            Some(i) => Err(CallFailure::invalid(format!(
                "review-tools answered `hide` with an empty reason for tool {i}"
            ))),
            None => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disable_answers() {
        let table = [
            (DisableDecision::Keep, true),
            (
                DisableDecision::Disable {
                    reason: "gone".into(),
                },
                true,
            ),
            (
                DisableDecision::Disable {
                    reason: String::new(),
                },
                false,
            ),
            (
                DisableDecision::Disable {
                    reason: " \n".into(),
                },
                false,
            ),
        ];
        for (d, ok) in table {
            assert_eq!(check_disable(&d).is_ok(), ok, "{d:?}");
        }
    }

    #[test]
    fn backoff_answers() {
        let day = 24 * 60 * 60 * 1000;
        let table = [
            (0, true),
            (1_000, true),
            (day, true),
            (day + 1, false),
            (u64::MAX, false),
        ];
        for (ms, ok) in table {
            assert_eq!(check_backoff(ms).is_ok(), ok, "{ms}");
        }
        assert_eq!(check_backoff(1500).ok(), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn verdict_answers() {
        let ignore = |r: &str| Verdict::Ignore { reason: r.into() };
        let table: [(Vec<Verdict>, usize, bool); 5] = [
            (vec![], 0, true),
            (vec![Verdict::Apply, ignore("cosmetic")], 2, true),
            (vec![Verdict::Apply], 2, false),
            (vec![Verdict::Apply, Verdict::Apply], 1, false),
            (vec![ignore("")], 1, false),
        ];
        for (v, n, ok) in table {
            let r = check_verdicts(&v, n);
            assert_eq!(r.is_ok(), ok, "{v:?} for {n}");
            if let Err(e) = r {
                assert_eq!(e.class, FailureClass::Invalid);
            }
        }
    }

    #[test]
    fn review_answers() {
        let hide = |r: &str| ToolVerdict::Hide { reason: r.into() };
        let table: [(ReviewDecision, usize, bool); 6] = [
            (ReviewDecision::PerTool(vec![]), 0, true),
            (
                ReviewDecision::PerTool(vec![ToolVerdict::Expose, hide("new")]),
                2,
                true,
            ),
            (ReviewDecision::PerTool(vec![ToolVerdict::Expose]), 2, false),
            (ReviewDecision::PerTool(vec![hide(" ")]), 1, false),
            (
                ReviewDecision::Quarantine {
                    reason: "rug pull".into(),
                },
                3,
                true,
            ),
            (
                ReviewDecision::Quarantine {
                    reason: String::new(),
                },
                3,
                false,
            ),
        ];
        for (d, n, ok) in table {
            assert_eq!(check_review(&d, n).is_ok(), ok, "{d:?} for {n}");
        }
    }
}
