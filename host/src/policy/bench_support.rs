//! Measurement hooks for `benches/policy.rs`: the pieces of a decision and of loading a
//! policy, timed in isolation. Not part of the daemon's API.

use std::path::Path;
use std::time::{Duration, Instant};

use super::cache::{self, CacheOutcome};
use super::engine::{self, EpochTicker, PolicyEngine};
use super::error::PolicyError;
use super::loaded::{CallLimits, Linkers, LoadedPolicy, PolicySource, sha256_hex};
use super::validate::CallFailure;
use crate::contract::{FailureEvent, Limits};

/// An engine with the default policy loaded, as the host runs it.
pub struct Bench {
    engine: PolicyEngine,
    policy: LoadedPolicy,
    _ticker: EpochTicker,
}

impl Bench {
    pub fn new() -> Result<Bench, PolicyError> {
        let engine = PolicyEngine::new()?;
        let ticker = engine.ticker(Limits::DEFAULT.deadline)?;
        let linkers = Linkers::new(&engine.engine)?;
        let policy = LoadedPolicy::load(
            &engine,
            &linkers,
            super::EMBEDDED_DEFAULT,
            PolicySource::Embedded,
            &serde_json::json!({}),
            CallLimits {
                limits: Limits::DEFAULT,
                deadline_ticks: engine::ticks_for(Limits::DEFAULT.deadline, ticker.tick),
            },
            None,
        )?
        .in_service();
        Ok(Bench {
            engine,
            policy,
            _ticker: ticker,
        })
    }

    /// `n` backoff decisions, each in a fresh Store and instance (what the host does).
    pub fn fresh_store(
        &self,
        event: &FailureEvent,
        n: usize,
    ) -> Result<Vec<Duration>, CallFailure> {
        (0..n)
            .map(|_| {
                let t = Instant::now();
                self.policy.backoff(event)?;
                Ok(t.elapsed())
            })
            .collect()
    }

    /// `n` backoff decisions on one reused instance, each timed.
    pub fn reused_instance(
        &self,
        event: &FailureEvent,
        n: usize,
    ) -> Result<Vec<Duration>, CallFailure> {
        self.policy.backoff_timed_reused(event, n)
    }

    /// Compiles the embedded default (with `cache_dir`: loads or stores its cache entry).
    pub fn compile(
        &self,
        cache_dir: Option<&Path>,
    ) -> Result<(Duration, CacheOutcome), PolicyError> {
        let bytes = super::EMBEDDED_DEFAULT;
        let t = Instant::now();
        let (_, outcome) =
            cache::load_or_compile(&self.engine.engine, bytes, &sha256_hex(bytes), cache_dir)
                .map_err(|e| PolicyError::Engine(format!("{e:#}")))?;
        Ok((t.elapsed(), outcome))
    }
}
