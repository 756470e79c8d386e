//! What `status` shows of the policy host: the active policy (each hook's component when
//! they differ), its limits and failure behaviour, decision counters, latency and quarantine.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::{PolicyHost, lock};
use crate::contract::OnFailure;
use crate::policy::cache::CacheOutcome;
use crate::policy::loaded::PolicySource;
use crate::policy::metrics::LatencyBucket;
use crate::policy::quarantine::QuarantineState;

/// The active policy, as `status` shows it. With a component per hook, `source`, `sha256`,
/// `world_version`, `uses_wasi` and `cache` describe the should-disable component and
/// `hooks` lists all three.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyStatus {
    /// The active policy's path, or `embedded`.
    pub source: String,
    /// The policy file the config asks for, if any (the should-disable one of a bundle).
    pub configured_path: Option<PathBuf>,
    /// Per hook (`should-disable`, `backoff`, `filter-reload`): the component serving it, when
    /// they are not all the same.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<BTreeMap<String, HookComponent>>,
    /// A policy file is configured but could not be loaded: the embedded default runs.
    pub fallback_active: bool,
    pub sha256: String,
    /// The `mcpproxy:policy/decisions` version it exports.
    pub world_version: String,
    /// Who answers `review-tools`: the policy, or (for a world 0.1.0 policy, which has no such
    /// hook) the embedded default.
    pub review_tools: ReviewToolsBy,
    /// Whether it imports WASI (and runs with the deny-all WASI context).
    pub uses_wasi: bool,
    /// How its compiled code was obtained.
    pub cache: CacheOutcome,
    /// The active policy's limits per decision (of its should-disable component).
    pub deadline_ms: u64,
    pub memory_limit_mib: u64,
    /// Who answers when the policy fails: the embedded default, or `deny` (fail closed).
    pub on_failure: OnFailure,
    /// Policy instances the pre-mapped pool holds (decisions beyond it wait); `null` when the
    /// pool could not be reserved (e.g. under `ulimit -v`) and instances are mapped per decision.
    pub instance_pool: Option<u32>,
    /// Decisions by hook (`should-disable`, `backoff`, `filter-reload`) and outcome (`ok`,
    /// `trap`, `timeout`, `limit`, `invalid`, `quarantined`).
    pub decisions: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    /// Decision latency histogram (µs buckets), fallbacks included.
    pub latency_us: Vec<LatencyBucket>,
    /// The time all decisions took together, in µs.
    pub latency_sum_us: u64,
    /// Decisions the active policy failed or could not make (quarantined), answered instead
    /// as `on_failure` says.
    pub fallbacks: u64,
    /// Backoffs answered shorter than the host's floor (`MIN_BACKOFF`, 100 ms) and raised to
    /// it, so that no policy can make a server retry in a tight loop.
    pub backoffs_clamped: u64,
    pub quarantine: QuarantineState,
    /// The last load, configure, smoke-test or decision error.
    pub last_error: Option<String>,
}

/// Who answers `review-tools`, in `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReviewToolsBy {
    pub source: String,
    /// Why the embedded default answers for a policy that is not the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One hook's component, in `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HookComponent {
    pub source: String,
    pub sha256: String,
}

impl PolicyHost {
    pub fn status(&self) -> PolicyStatus {
        let running = self.active();
        let set = &running.hooks;
        let active = &set.should_disable;
        let configured_path = lock(&self.requested)
            .files
            .as_ref()
            .map(|f| f.should_disable.clone());
        let hooks = (set.distinct_by(Arc::ptr_eq).len() > 1).then(|| {
            set.iter()
                .map(|(hook, p)| {
                    let component = HookComponent {
                        source: p.source.name(),
                        sha256: p.sha256.clone(),
                    };
                    (hook.as_str().to_string(), component)
                })
                .collect()
        });
        PolicyStatus {
            source: active.source.name(),
            fallback_active: configured_path.is_some() && active.source == PolicySource::Embedded,
            configured_path,
            hooks,
            sha256: active.sha256.clone(),
            world_version: active.world.version.clone(),
            review_tools: ReviewToolsBy {
                source: running.review.source.name(),
                note: (!active.reviews_tools()).then(|| {
                    format!(
                        "{} is world {}, which has no review-tools: the embedded default answers it",
                        active.source.name(),
                        active.world.version
                    )
                }),
            },
            uses_wasi: active.world.needs_wasi,
            cache: active.cache,
            instance_pool: self.engine.pool_size,
            deadline_ms: active.limits().limits.deadline.as_millis() as u64,
            memory_limit_mib: active.limits().limits.memory_limit_mib(),
            on_failure: running.on_failure,
            decisions: self.metrics.decisions(),
            latency_us: self.metrics.latency(),
            latency_sum_us: self.metrics.latency_sum_us(),
            fallbacks: self.metrics.fallbacks(),
            backoffs_clamped: self.metrics.backoffs_clamped(),
            quarantine: lock(&self.quarantine).state(Instant::now()),
            last_error: lock(&self.last_error).clone(),
        }
    }
}
