//! `PolicyHost`: the daemon's `Policy`, running the active WebAssembly policy with the
//! embedded default as a safety net.
//!
//! Every decision runs the active policy in a fresh instance; a trap, timeout, limit hit or
//! invalid answer makes the embedded default answer instead (logged and counted), and repeated
//! failures quarantine the custom policy for a while. The active policy (one component, or a
//! bundle's component per hook) is an `Arc` swapped atomically by `replace`, which compiles,
//! configures and smoke-tests every new component first.
//! Nothing here panics on a policy's behaviour.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use super::cache::CacheOutcome;
use super::engine::{self, EpochTicker, PolicyEngine};
use super::error::PolicyError;
use super::loaded::{CallLimits, Linkers, LoadedPolicy, PolicySource, settings_json};
use super::metrics::{Hook, LatencyBucket, Metrics, Outcome};
use super::options::{OnFailure, PolicyOptions};
use super::per_hook::{PerHook, PolicyFiles};
use super::quarantine::{Quarantine, QuarantineSettings, QuarantineState};
use super::scenarios;
use super::types::{ConfigDiff, DisableDecision, FailureEvent, Verdict};
use super::validate::CallFailure;
use super::{EMBEDDED_DEFAULT, Policy};

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
    pub quarantine: QuarantineState,
    /// The last load, configure, smoke-test or decision error.
    pub last_error: Option<String>,
}

/// One hook's component, in `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HookComponent {
    pub source: String,
    pub sha256: String,
}

/// What the config asks for.
#[derive(Clone)]
struct Requested {
    files: Option<PolicyFiles>,
    settings: serde_json::Value,
    limits: CallLimits,
    on_failure: OnFailure,
}

/// The policy answering each hook.
type ActiveSet = PerHook<Arc<LoadedPolicy>>;

/// The running policy: its component per hook, and who answers when it fails.
struct Active {
    hooks: ActiveSet,
    on_failure: OnFailure,
}

pub struct PolicyHost {
    engine: PolicyEngine,
    linkers: Linkers,
    cache_dir: Option<PathBuf>,
    /// The embedded default with default settings: the safety net for every decision.
    default: Arc<LoadedPolicy>,
    active: RwLock<Arc<Active>>,
    requested: Mutex<Requested>,
    quarantine: Mutex<Quarantine>,
    quarantine_settings: QuarantineSettings,
    metrics: Metrics,
    last_error: Mutex<Option<String>>,
    /// Serialises `replace` calls (the watcher and the config reload may race).
    replacing: Mutex<()>,
    ticker: EpochTicker,
}

/// Locks a mutex even if a panicking thread poisoned it: the data stays usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PolicyHost {
    /// Starts the host. A broken custom policy falls back to the embedded default with a
    /// warning (see `status`); only a broken embedded default is an error.
    pub fn start(opts: PolicyOptions) -> Result<Arc<PolicyHost>, PolicyError> {
        let engine = PolicyEngine::new()?;
        let linkers = Linkers::new(&engine.engine)?;
        let ticker = EpochTicker::start(engine.engine.clone(), engine::tick_for(opts.deadline))?;
        let limits = limits_for(&opts, ticker.tick);
        let default = Arc::new(
            LoadedPolicy::load(
                &engine,
                &linkers,
                EMBEDDED_DEFAULT,
                PolicySource::Embedded,
                &serde_json::Value::Object(Default::default()),
                limits,
                opts.cache_dir.as_deref(),
            )?
            .in_service(),
        );
        let host = Arc::new(PolicyHost {
            engine,
            linkers,
            cache_dir: opts.cache_dir.clone(),
            active: RwLock::new(Arc::new(Active {
                hooks: PerHook::same(default.clone()),
                on_failure: OnFailure::FallbackToDefault,
            })),
            default,
            requested: Mutex::new(Requested {
                files: opts.files.clone(),
                settings: opts.settings.clone(),
                limits,
                on_failure: opts.on_failure,
            }),
            quarantine: Mutex::new(Quarantine::new(opts.quarantine)),
            quarantine_settings: opts.quarantine,
            metrics: Metrics::default(),
            last_error: Mutex::new(None),
            replacing: Mutex::new(()),
            ticker,
        });
        if let Err(e) = host.replace(opts.files, opts.settings) {
            tracing::warn!("{e}; running the embedded default policy instead");
        }
        Ok(host)
    }

    /// Loads, configures and smoke-tests a policy (`None`: the embedded default with these
    /// settings; a bundle's files per hook: each distinct one), then makes it the active
    /// one. On error the running policy stays.
    /// The limits and `on_failure` stay as they are; `apply` changes them too.
    pub fn replace(
        &self,
        files: Option<PolicyFiles>,
        settings: serde_json::Value,
    ) -> Result<(), PolicyError> {
        let current = lock(&self.requested).clone();
        self.replace_with(Requested {
            files,
            settings,
            ..current
        })
    }

    /// `replace` with everything `opts` asks for: components, settings, deadline, memory cap
    /// and `on_failure` (a config edit, a new bundle revision). A deadline shorter than the
    /// one the host started with is rounded up to the start deadline's epoch tick.
    pub fn apply(&self, opts: &PolicyOptions) -> Result<(), PolicyError> {
        self.replace_with(Requested {
            files: opts.files.clone(),
            settings: opts.settings.clone(),
            limits: limits_for(opts, self.ticker.tick),
            on_failure: opts.on_failure,
        })
    }

    fn replace_with(&self, requested: Requested) -> Result<(), PolicyError> {
        let _one_at_a_time = lock(&self.replacing);
        *lock(&self.requested) = requested.clone();
        let Requested {
            files,
            settings,
            limits,
            on_failure,
        } = requested;
        let prepared = match &files {
            None => self.prepare(None, &settings, limits).map(PerHook::same),
            Some(files) => self.prepare_each(files, &settings, limits),
        };
        match prepared {
            Ok(hooks) => {
                for p in hooks.distinct_by(Arc::ptr_eq) {
                    tracing::info!(policy = p.source_name(), sha256 = %p.sha256, "policy active");
                }
                let new = Arc::new(Active { hooks, on_failure });
                *self.active.write().unwrap_or_else(|e| e.into_inner()) = new;
                *lock(&self.quarantine) = Quarantine::new(self.quarantine_settings);
                *lock(&self.last_error) = None;
                Ok(())
            }
            Err(e) => {
                *lock(&self.last_error) = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Prepares each distinct file of `files` once.
    fn prepare_each(
        &self,
        files: &PolicyFiles,
        settings: &serde_json::Value,
        limits: CallLimits,
    ) -> Result<ActiveSet, PolicyError> {
        let mut loaded: Vec<(&PathBuf, Arc<LoadedPolicy>)> = Vec::new();
        for path in files.distinct() {
            loaded.push((path, self.prepare(Some(path.as_path()), settings, limits)?));
        }
        files.try_map(|path| {
            let (_, p) = loaded
                .iter()
                .find(|(f, _)| *f == path)
                .expect("prepared above");
            Ok(p.clone())
        })
    }

    fn prepare(
        &self,
        path: Option<&Path>,
        settings: &serde_json::Value,
        limits: CallLimits,
    ) -> Result<Arc<LoadedPolicy>, PolicyError> {
        let Some(path) = path else {
            if settings_json(settings) == settings_json(&self.default.settings)
                && limits == self.default.limits()
            {
                return Ok(self.default.clone());
            }
            let p = self.load_bytes(EMBEDDED_DEFAULT, PolicySource::Embedded, settings, limits)?;
            return Ok(Arc::new(p.in_service()));
        };
        let bytes = std::fs::read(path).map_err(|error| PolicyError::Read {
            source_name: path.display().to_string(),
            path: path.to_path_buf(),
            error,
        })?;
        let source = PolicySource::File(path.to_path_buf());
        let p = self.load_bytes(&bytes, source, settings, limits)?;
        smoke_test(&p)?;
        Ok(Arc::new(p.in_service()))
    }

    fn load_bytes(
        &self,
        bytes: &[u8],
        source: PolicySource,
        settings: &serde_json::Value,
        limits: CallLimits,
    ) -> Result<LoadedPolicy, PolicyError> {
        LoadedPolicy::load(
            &self.engine,
            &self.linkers,
            bytes,
            source,
            settings,
            limits,
            self.cache_dir.as_deref(),
        )
    }

    /// The policy files the config asks for, and their settings (for the watcher).
    pub(super) fn requested(&self) -> (Option<PolicyFiles>, serde_json::Value) {
        let r = lock(&self.requested);
        (r.files.clone(), r.settings.clone())
    }

    /// The sha256 of the active policy (of its should-disable component).
    pub fn active_sha256(&self) -> String {
        self.active().hooks.should_disable.sha256.clone()
    }

    fn active(&self) -> Arc<Active> {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

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
            uses_wasi: active.world.needs_wasi,
            cache: active.cache,
            instance_pool: self.engine.pool_size,
            deadline_ms: active.limits().deadline.as_millis() as u64,
            memory_limit_mib: (active.limits().memory_limit >> 20) as u64,
            on_failure: running.on_failure,
            decisions: self.metrics.decisions(),
            latency_us: self.metrics.latency(),
            latency_sum_us: self.metrics.latency_sum_us(),
            fallbacks: self.metrics.fallbacks(),
            quarantine: lock(&self.quarantine).state(Instant::now()),
            last_error: lock(&self.last_error).clone(),
        }
    }

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
        let active = running.hooks.get(hook).clone();
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

/// The per-call limits `opts` asks for, on a ticker of period `tick`.
fn limits_for(opts: &PolicyOptions, tick: Duration) -> CallLimits {
    CallLimits {
        memory_limit: opts.memory_limit,
        deadline: opts.deadline,
        deadline_ticks: engine::ticks_for(opts.deadline, tick),
    }
}

/// A hook's answers when the active policy cannot give one.
struct Substitute<L, D> {
    /// Used only if even the embedded default cannot answer.
    last_resort: L,
    /// `on_failure: deny`: fail closed.
    deny: D,
}

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
        self.decide(Hook::Backoff, |p| p.backoff(event), substitute)
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
}

/// Runs the built-in scenarios through `p`: any failure refuses it.
fn smoke_test(p: &LoadedPolicy) -> Result<(), PolicyError> {
    let fail = |scenario: String, f: CallFailure| PolicyError::SmokeTest {
        source_name: p.source_name().to_string(),
        scenario,
        message: f.to_string(),
    };
    for s in scenarios::events() {
        p.should_disable(&s.event)
            .map_err(|f| fail(format!("should-disable \"{}\"", s.name), f))?;
        p.backoff(&s.event)
            .map_err(|f| fail(format!("backoff \"{}\"", s.name), f))?;
    }
    for s in scenarios::diffs() {
        p.filter_reload(&s.diff)
            .map_err(|f| fail(format!("filter-reload \"{}\"", s.name), f))?;
    }
    Ok(())
}
