//! `PolicyHost`: the daemon's `Policy`, running the active WebAssembly policy with the
//! embedded default as a safety net.
//!
//! Every decision runs the active policy in a fresh instance; a trap, timeout, limit hit or
//! invalid answer makes the embedded default answer instead (logged and counted), and repeated
//! failures quarantine the custom policy for a while. The active policy (one component, or a
//! bundle's component per hook) is an `Arc` swapped atomically by `replace`, which compiles,
//! configures and smoke-tests every new component first.
//! Nothing here panics on a policy's behaviour.
//!
//! Here: starting and replacing the policy. `decide`: the decision path and `on_failure`.
//! `status`: what `status` shows.

mod decide;
mod status;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use super::EMBEDDED_DEFAULT;
use super::engine::{self, EpochTicker, PolicyEngine};
use super::error::PolicyError;
use super::loaded::{CallLimits, Linkers, LoadedPolicy, PolicySource, settings_json};
use super::metrics::Metrics;
use super::options::PolicyOptions;
use super::per_hook::{Hook, PerHook, PolicyFiles};
use super::quarantine::{Quarantine, QuarantineSettings};
use super::scenarios;
use super::validate::CallFailure;
use crate::contract::OnFailure;

pub use status::{HookComponent, PolicyStatus};

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
    /// Who answers `review-tools`: the should-disable component, or the embedded default when
    /// that component is world 0.1.0.
    review: Arc<LoadedPolicy>,
    on_failure: OnFailure,
}

impl Active {
    fn new(hooks: ActiveSet, on_failure: OnFailure, default: &Arc<LoadedPolicy>) -> Active {
        let review = if hooks.should_disable.reviews_tools() {
            hooks.should_disable.clone()
        } else {
            default.clone()
        };
        Active {
            hooks,
            review,
            on_failure,
        }
    }

    /// The component answering `hook`.
    fn component(&self, hook: Hook) -> &Arc<LoadedPolicy> {
        match hook {
            Hook::ReviewTools => &self.review,
            other => self.hooks.get(other),
        }
    }
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
        let ticker = engine.ticker(opts.limits.deadline)?;
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
            active: RwLock::new(Arc::new(Active::new(
                PerHook::same(default.clone()),
                OnFailure::FallbackToDefault,
                &default,
            ))),
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
    /// and `on_failure` (a config edit, a new bundle revision).
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
                let new = Arc::new(Active::new(hooks, on_failure, &self.default));
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
    pub fn requested(&self) -> (Option<PolicyFiles>, serde_json::Value) {
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
}

/// The per-call limits `opts` asks for, on a ticker of period `tick`.
fn limits_for(opts: &PolicyOptions, tick: Duration) -> CallLimits {
    CallLimits {
        limits: opts.limits,
        deadline_ticks: engine::ticks_for(opts.limits.deadline, tick),
    }
}

/// Runs the smoke scenarios through `p`: any failure refuses it.
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
    if p.reviews_tools() {
        for s in scenarios::reviews() {
            p.review_tools(&s.review)
                .map_err(|f| fail(format!("review-tools \"{}\"", s.name), f))?;
        }
    }
    Ok(())
}
