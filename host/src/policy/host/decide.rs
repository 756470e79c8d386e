//! The decision path: run the active policy's component for the hook; when it fails or is
//! quarantined, answer as `on_failure` says (the embedded default, or fail closed).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{PolicyHost, lock};
use crate::contract::OnFailure;
use crate::contract::Policy;
use crate::contract::{
    ConfigDiff, DisableDecision, FailureEvent, ReviewDecision, ToolReview, ToolVerdict, Verdict,
};
use crate::policy::loaded::LoadedPolicy;
use crate::policy::metrics::{Hook, Outcome};
use crate::policy::validate::CallFailure;

impl PolicyHost {
    /// Runs `call` on the active policy. When it fails or is quarantined, `on_failure`
    /// decides: the embedded default answers (and, should even that fail, `substitute`'s last
    /// resort), or `substitute`'s deny answer.
    fn decide<T>(
        &self,
        hook: Hook,
        call: impl Fn(&LoadedPolicy) -> Result<T, CallFailure>,
        substitute: Substitute<impl FnOnce() -> T, impl FnOnce() -> T>,
    ) -> T {
        let started = Instant::now();
        let running = self.active();
        let active = running.component(hook).clone();
        let (answer, outcome) = if !lock(&self.quarantine).allows(started) {
            let answer = self.instead(running.on_failure, hook, &call, substitute);
            (answer, Outcome::Quarantined)
        } else {
            match call(&active) {
                Ok(answer) => {
                    lock(&self.quarantine).record_success(started);
                    (answer, Outcome::Ok)
                }
                Err(failure) => {
                    tracing::warn!(
                        policy = active.source_name(),
                        hook = hook.as_str(),
                        on_failure = ?running.on_failure,
                        "policy decision failed ({failure}); answered as on_failure says"
                    );
                    *lock(&self.last_error) = Some(format!(
                        "policy {}: {} failed: {failure}",
                        active.source_name(),
                        hook.as_str()
                    ));
                    let class = failure.class;
                    if Arc::ptr_eq(&active, &self.default) {
                        // The safety net itself failed: nothing to quarantine or retry.
                        ((substitute.last_resort)(), Outcome::Fallback(class))
                    } else {
                        if let Some(until) = lock(&self.quarantine).record_failure(started) {
                            tracing::warn!(
                                policy = active.source_name(),
                                "policy quarantined for {:?} after repeated failures",
                                until.saturating_duration_since(started)
                            );
                        }
                        let answer = self.instead(running.on_failure, hook, &call, substitute);
                        (answer, Outcome::Fallback(class))
                    }
                }
            }
        };
        self.metrics.record(hook, outcome, started.elapsed());
        answer
    }

    /// The answer when the active policy fails or is quarantined.
    fn instead<T>(
        &self,
        on_failure: OnFailure,
        hook: Hook,
        call: &impl Fn(&LoadedPolicy) -> Result<T, CallFailure>,
        substitute: Substitute<impl FnOnce() -> T, impl FnOnce() -> T>,
    ) -> T {
        match on_failure {
            OnFailure::FallbackToDefault => self.fallback(hook, call, substitute.last_resort),
            OnFailure::Deny => (substitute.deny)(),
        }
    }

    fn fallback<T>(
        &self,
        hook: Hook,
        call: &impl Fn(&LoadedPolicy) -> Result<T, CallFailure>,
        last_resort: impl FnOnce() -> T,
    ) -> T {
        match call(&self.default) {
            Ok(answer) => answer,
            Err(failure) => {
                tracing::error!(
                    hook = hook.as_str(),
                    "the embedded default policy failed ({failure})"
                );
                last_resort()
            }
        }
    }
}

/// A hook's answers when the active policy cannot give one.
struct Substitute<L, D> {
    /// Used only if even the embedded default cannot answer.
    last_resort: L,
    /// `on_failure: deny`: fail closed.
    deny: D,
}

/// The shortest wait before a retry, whatever a policy answers.
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// A backoff used only if even the embedded default cannot answer.
const LAST_RESORT_BACKOFF: Duration = Duration::from_secs(30);
/// `on_failure: deny`: the default policy's longest backoff.
const DENY_BACKOFF: Duration = Duration::from_secs(300);
const DENY_REASON: &str = "the policy failed, and its on_failure is `deny`";

impl Policy for PolicyHost {
    fn should_disable(&self, event: &FailureEvent) -> DisableDecision {
        let keep = || DisableDecision::Keep;
        let substitute = Substitute {
            last_resort: keep,
            deny: keep,
        };
        self.decide(Hook::ShouldDisable, |p| p.should_disable(event), substitute)
    }

    fn backoff(&self, event: &FailureEvent) -> Duration {
        let substitute = Substitute {
            last_resort: || LAST_RESORT_BACKOFF,
            deny: || DENY_BACKOFF,
        };
        let wait = self.decide(Hook::Backoff, |p| p.backoff(event), substitute);
        if wait >= MIN_BACKOFF {
            return wait;
        }
        // A policy that never disables and answers 0 would have a server retried in a tight
        // loop: the host holds every retry to a floor, and counts it.
        self.metrics.record_clamp();
        tracing::debug!(server = %event.server, answered = ?wait, floor = ?MIN_BACKOFF, "backoff raised to the floor");
        MIN_BACKOFF
    }

    fn filter_reload(&self, diff: &ConfigDiff) -> Vec<Verdict> {
        let n = diff.changes.len();
        let substitute = Substitute {
            last_resort: || vec![Verdict::Apply; n],
            deny: || {
                let ignore = Verdict::Ignore {
                    reason: DENY_REASON.to_string(),
                };
                vec![ignore; n]
            },
        };
        self.decide(Hook::FilterReload, |p| p.filter_reload(diff), substitute)
    }

    fn review_tools(&self, review: &ToolReview) -> ReviewDecision {
        let server = review.server.clone();
        let hide_all = move |reason: String| {
            let hide = ToolVerdict::Hide { reason };
            ReviewDecision::PerTool(vec![hide; review.tools.len()])
        };
        let substitute = Substitute {
            // Even the default failed: nothing new or changed is shown unreviewed.
            last_resort: || {
                let reason = format!(
                    "the policy could not review {server}'s changed tools: hidden until approved"
                );
                let hide = ToolVerdict::Hide { reason };
                let verdicts = review
                    .tools
                    .iter()
                    .map(|t| {
                        if t.approved_hash.as_deref() == Some(t.current_hash.as_str()) {
                            ToolVerdict::Expose
                        } else {
                            hide.clone()
                        }
                    })
                    .collect();
                ReviewDecision::PerTool(verdicts)
            },
            deny: || hide_all(DENY_REASON.to_string()),
        };
        self.decide(Hook::ReviewTools, |p| p.review_tools(review), substitute)
    }
}
