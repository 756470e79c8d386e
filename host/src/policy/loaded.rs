//! One compiled, checked and configured policy component, ready to decide.
//!
//! Compiled once (through the cache), pre-linked once (`PolicyPre`); every decision gets a
//! fresh `Store` and instance, so no state leaks between calls and a trap never poisons a
//! later decision. Answers are validated here; falling back is the caller's business.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{
    AsContext, AsContextMut, Engine, Store, StoreContext, StoreContextMut, UpdateDeadline,
};

use super::bindings::{PolicyPre, v0_1, v0_2};
use super::cache::{self, CacheOutcome};
use super::deadline::CpuDeadline;
use super::engine::{PolicyEngine, SETUP_DEADLINE_FACTOR, SlotGuard};
use super::error::PolicyError;
use super::exports::{self, WorldInfo, WorldProblem};
use super::store::StoreState;
use super::validate::{self, CallFailure};
use crate::contract::{
    ConfigDiff, DisableDecision, FailureEvent, Limits, ReviewDecision, ToolReview, Verdict,
};

/// Where a policy came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    Embedded,
    File(PathBuf),
}

impl PolicySource {
    /// `embedded`, or the file's path: how messages and status name the policy.
    pub fn name(&self) -> String {
        match self {
            PolicySource::Embedded => "embedded".to_string(),
            PolicySource::File(p) => p.display().to_string(),
        }
    }
}

/// The linkers a host offers: one with only the policy worlds (every version the host runs),
/// one that adds deny-all WASI.
pub struct Linkers {
    pub plain: Linker<StoreState>,
    pub wasi: Linker<StoreState>,
}

impl Linkers {
    pub fn new(engine: &Engine) -> Result<Linkers, PolicyError> {
        let engine_err = |e: wasmtime::Error| PolicyError::Engine(format!("{e:#}"));
        let worlds = |linker: &mut Linker<StoreState>| -> wasmtime::Result<()> {
            use wasmtime::component::HasSelf;
            v0_2::Policy::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
            v0_1::Policy::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
        };
        let mut plain = Linker::new(engine);
        worlds(&mut plain).map_err(engine_err)?;
        let mut wasi = Linker::new(engine);
        worlds(&mut wasi).map_err(engine_err)?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut wasi).map_err(engine_err)?;
        Ok(Linkers { plain, wasi })
    }
}

/// The per-call limits, with the deadline in the epoch ticks a `Store` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub limits: Limits,
    /// `limits.deadline` in epoch ticks (`engine::ticks_for`).
    pub deadline_ticks: u64,
}

/// Runs `$body` with `$d`, the instance's `decisions` of whichever world version the policy
/// is, in a fresh `$store`. The body is written once and compiled once per version: the
/// argument conversions (`.into()`) pick that version's types.
macro_rules! decisions {
    ($self:ident, |$d:ident, $store:ident| $body:expr) => {{
        let mut $store = $self.store();
        match &$self.pre {
            PolicyPre::V0_2(pre) => {
                let policy = pre
                    .instantiate(&mut $store)
                    .map_err(|e| CallFailure::from_wasmtime(&e))?;
                let $d = policy.mcpproxy_policy_decisions();
                $body
            }
            PolicyPre::V0_1(pre) => {
                let policy = pre
                    .instantiate(&mut $store)
                    .map_err(|e| CallFailure::from_wasmtime(&e))?;
                let $d = policy.mcpproxy_policy_decisions();
                $body
            }
        }
    }};
}

pub struct LoadedPolicy {
    pub source: PolicySource,
    pub sha256: String,
    pub world: WorldInfo,
    pub cache: CacheOutcome,
    /// The settings JSON `configure` accepted.
    pub settings: serde_json::Value,
    source_name: Arc<str>,
    engine: PolicyEngine,
    pre: PolicyPre<StoreState>,
    prepared: Vec<u8>,
    limits: CallLimits,
    /// Calls while loading (`configure`, smoke test) get `SETUP_DEADLINE_FACTOR` times the
    /// deadline, so a busy machine does not get a good policy refused; false once in service.
    loading: bool,
}

/// The sha256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl LoadedPolicy {
    /// Compiles (or loads from `cache_dir`), checks the world, links and configures `bytes`.
    pub fn load(
        engine: &PolicyEngine,
        linkers: &Linkers,
        bytes: &[u8],
        source: PolicySource,
        settings: &serde_json::Value,
        limits: CallLimits,
        cache_dir: Option<&Path>,
    ) -> Result<LoadedPolicy, PolicyError> {
        let source_name = source.name();
        let sha256 = sha256_hex(bytes);
        let (component, cache) = cache::load_or_compile(&engine.engine, bytes, &sha256, cache_dir)
            .map_err(|e| PolicyError::Compile {
                source_name: source_name.clone(),
                message: format!("{e:#}"),
            })?;
        let world = exports::check(&engine.engine, &component).map_err(|p| match p {
            WorldProblem::World(message) => PolicyError::World {
                source_name: source_name.clone(),
                message,
            },
            WorldProblem::UnknownImport(import) => PolicyError::UnknownImport {
                source_name: source_name.clone(),
                import,
            },
        })?;
        let pre = link(linkers, &component, &world).map_err(|e| PolicyError::Link {
            source_name: source_name.clone(),
            message: format!("{e:#}"),
        })?;
        let mut policy = LoadedPolicy {
            source,
            sha256,
            world,
            cache,
            settings: settings.clone(),
            source_name: Arc::from(source_name.as_str()),
            engine: engine.clone(),
            pre,
            prepared: Vec::new(),
            limits,
            loading: true,
        };
        let settings_text = settings_json(settings);
        policy.prepared = match policy.configure(&settings_text) {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(message)) => {
                return Err(PolicyError::Configure {
                    source_name,
                    message,
                });
            }
            Err(failure) => {
                return Err(PolicyError::Configure {
                    source_name,
                    message: format!("`configure` failed ({failure})"),
                });
            }
        };
        Ok(policy)
    }

    /// Puts the policy in service: from now on calls get the normal deadline.
    pub fn in_service(mut self) -> Self {
        self.loading = false;
        self
    }

    pub fn limits(&self) -> CallLimits {
        self.limits
    }

    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// A fresh store under the per-call limits and deadline, once the pool has room.
    fn store(&self) -> CallStore {
        let factor = if self.loading {
            SETUP_DEADLINE_FACTOR
        } else {
            1
        };
        let slot = self.engine.slot();
        let mut store = Store::new(
            &self.engine.engine,
            StoreState::new(
                self.limits.limits.memory_limit,
                self.source_name.clone(),
                // Past the epoch deadline, the call goes on while its thread has CPU left.
                CpuDeadline::start(self.limits.limits.deadline * factor as u32),
            ),
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.limits.deadline_ticks * factor);
        store.epoch_deadline_callback(|ctx| {
            Ok(if ctx.data().deadline.extend() {
                UpdateDeadline::Continue(1)
            } else {
                UpdateDeadline::Interrupt
            })
        });
        CallStore { store, _slot: slot }
    }

    /// Does it answer `review-tools` (world 0.2.0), or does the default answer for it?
    pub fn reviews_tools(&self) -> bool {
        matches!(self.pre, PolicyPre::V0_2(_))
    }

    /// Runs `configure` with the JSON text of the settings: `Ok(Err(msg))` is a rejection.
    pub fn configure(&self, settings: &str) -> Result<Result<Vec<u8>, String>, CallFailure> {
        decisions!(self, |d, store| d
            .call_configure(&mut store, settings)
            .map_err(|e| CallFailure::from_wasmtime(&e)))
    }

    pub fn should_disable(&self, event: &FailureEvent) -> Result<DisableDecision, CallFailure> {
        let answer: DisableDecision = decisions!(self, |d, store| d
            .call_should_disable(&mut store, &self.prepared, &event.into())
            .map_err(|e| CallFailure::from_wasmtime(&e))?
            .into());
        validate::check_disable(&answer)?;
        Ok(answer)
    }

    pub fn backoff(&self, event: &FailureEvent) -> Result<Duration, CallFailure> {
        let ms = decisions!(self, |d, store| d
            .call_backoff(&mut store, &self.prepared, &event.into())
            .map_err(|e| CallFailure::from_wasmtime(&e))?);
        validate::check_backoff(ms)
    }

    pub fn filter_reload(&self, diff: &ConfigDiff) -> Result<Vec<Verdict>, CallFailure> {
        let verdicts: Vec<Verdict> = decisions!(self, |d, store| d
            .call_filter_reload(&mut store, &self.prepared, &diff.into())
            .map_err(|e| CallFailure::from_wasmtime(&e))?
            .into_iter()
            .map(Verdict::from)
            .collect());
        validate::check_verdicts(&verdicts, diff.changes.len())?;
        Ok(verdicts)
    }

    /// `review-tools`; a 0.1.0 component has none (the host asks the default instead).
    pub fn review_tools(&self, review: &ToolReview) -> Result<ReviewDecision, CallFailure> {
        let PolicyPre::V0_2(pre) = &self.pre else {
            return Err(CallFailure::invalid(
                "the policy is world 0.1.0, which has no review-tools",
            ));
        };
        let mut store = self.store();
        let policy = pre
            .instantiate(&mut store)
            .map_err(|e| CallFailure::from_wasmtime(&e))?;
        let answer: ReviewDecision = policy
            .mcpproxy_policy_decisions()
            .call_review_tools(&mut store, &self.prepared, &review.into())
            .map_err(|e| CallFailure::from_wasmtime(&e))?
            .into();
        validate::check_review(&answer, review.tools.len())?;
        Ok(answer)
    }

    /// For benchmarks: `n` backoff decisions on one reused instance, each timed (what a
    /// fresh Store per call costs, compared with none).
    pub fn backoff_timed_reused(
        &self,
        event: &FailureEvent,
        n: usize,
    ) -> Result<Vec<Duration>, CallFailure> {
        decisions!(self, |d, store| {
            let event = event.into();
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let t = std::time::Instant::now();
                store.store.set_epoch_deadline(self.limits.deadline_ticks);
                let ms = d
                    .call_backoff(&mut store, &self.prepared, &event)
                    .map_err(|e| CallFailure::from_wasmtime(&e))?;
                validate::check_backoff(ms)?;
                out.push(t.elapsed());
            }
            Ok(out)
        })
    }
}

/// A decision's `Store` and its pool slot. Fields drop in order: the store (and with it the
/// instance) first, then the slot, so a slot is only handed on once its instance is gone.
struct CallStore {
    store: Store<StoreState>,
    _slot: SlotGuard,
}

impl AsContext for CallStore {
    type Data = StoreState;
    fn as_context(&self) -> StoreContext<'_, StoreState> {
        self.store.as_context()
    }
}

impl AsContextMut for CallStore {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, StoreState> {
        self.store.as_context_mut()
    }
}

fn link(
    linkers: &Linkers,
    component: &Component,
    world: &WorldInfo,
) -> wasmtime::Result<PolicyPre<StoreState>> {
    let linker = if world.needs_wasi {
        &linkers.wasi
    } else {
        &linkers.plain
    };
    let pre = linker.instantiate_pre(component)?;
    Ok(if world.world == "0.1.0" {
        PolicyPre::V0_1(v0_1::PolicyPre::new(pre)?)
    } else {
        PolicyPre::V0_2(v0_2::PolicyPre::new(pre)?)
    })
}

/// The JSON text handed to `configure`: `{}` when there are no settings.
pub fn settings_json(settings: &serde_json::Value) -> String {
    if settings.is_null() {
        "{}".to_string()
    } else {
        settings.to_string()
    }
}
