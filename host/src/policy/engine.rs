//! The wasmtime `Engine` shared by all policies of one host, and the epoch ticker that
//! enforces per-decision deadlines.
//!
//! A decision's `Store` gets an epoch deadline of `DEADLINE_TICKS` ticks; a thread bumps the
//! epoch every `deadline / (DEADLINE_TICKS - 1)`, so a runaway decision traps after between
//! one and 1.25 deadlines. The ticker stops when its `EpochTicker` is dropped.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use wasmtime::{Config, Engine};

use super::error::PolicyError;

/// Epoch ticks a decision may run for.
pub const DEADLINE_TICKS: u64 = 5;
/// Epoch ticks for the calls made while loading a policy (`configure`, the smoke test).
pub const SETUP_DEADLINE_TICKS: u64 = 20 * DEADLINE_TICKS;

pub fn new_engine() -> Result<Engine, PolicyError> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    Engine::new(&config).map_err(|e| PolicyError::Engine(format!("{e:#}")))
}

/// The tick period that makes `DEADLINE_TICKS` ticks last at least `deadline`.
pub fn tick_for(deadline: Duration) -> Duration {
    (deadline / (DEADLINE_TICKS - 1) as u32).max(Duration::from_micros(100))
}

/// Increments the engine's epoch periodically until dropped.
pub struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: Engine, tick: Duration) -> Result<EpochTicker, PolicyError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || {
                // Wakes every tick; a message or a dropped sender ends it.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })
            .map_err(|e| PolicyError::Engine(format!("cannot start the epoch ticker: {e}")))?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
