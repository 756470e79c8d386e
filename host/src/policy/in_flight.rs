//! Decisions in flight: the gate to the instance pool, and the epoch ticker that runs only
//! while a decision does.
//!
//! The pool holds a fixed number of instances; `InFlight::enter` makes a caller wait for a
//! free one instead of failing. The ticker bumps the engine's epoch every `tick` while any
//! instance is alive and sleeps otherwise, so an idle daemon has no timer waking it (it used
//! to wake hundreds of times a second). A decision's epoch deadline is relative to the epoch
//! when it started, and every tick of its life comes at least `tick` after the one before,
//! so a deadline of `n` ticks still lasts at least `(n - 1) × tick`.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use wasmtime::Engine;

use super::error::PolicyError;

/// Instances alive, and who waits on what.
#[derive(Debug)]
struct State {
    in_flight: usize,
    limit: usize,
    /// Callers waiting for a free slot.
    waiting: usize,
    /// The ticker is asleep until a decision starts.
    ticker_idle: bool,
    stopping: bool,
}

/// Shared by an engine's policies and its ticker.
#[derive(Debug)]
pub struct InFlight {
    state: Mutex<State>,
    /// A slot came free (signalled only when someone waits).
    freed: Condvar,
    /// A decision started while the ticker slept, or the ticker must stop.
    busy: Condvar,
}

impl InFlight {
    /// At most `limit` instances alive at once.
    pub fn new(limit: usize) -> Arc<InFlight> {
        Arc::new(InFlight {
            state: Mutex::new(State {
                in_flight: 0,
                limit,
                waiting: 0,
                ticker_idle: false,
                stopping: false,
            }),
            freed: Condvar::new(),
            busy: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for room for one more instance; the room is given back when the guard drops.
    pub fn enter(self: &Arc<Self>) -> SlotGuard {
        let mut s = self.lock();
        while s.in_flight >= s.limit {
            s.waiting += 1;
            s = self.freed.wait(s).unwrap_or_else(|e| e.into_inner());
            s.waiting -= 1;
        }
        s.in_flight += 1;
        if s.ticker_idle {
            s.ticker_idle = false;
            self.busy.notify_one();
        }
        SlotGuard(self.clone())
    }
}

/// One pool slot, held while an instance lives: drop it after the `Store`.
pub struct SlotGuard(Arc<InFlight>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight -= 1;
        if s.waiting > 0 {
            self.0.freed.notify_one();
        }
    }
}

/// Increments the engine's epoch every `tick` while decisions run, until dropped.
pub struct EpochTicker {
    pub tick: Duration,
    in_flight: Arc<InFlight>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(
        engine: Engine,
        in_flight: Arc<InFlight>,
        tick: Duration,
    ) -> Result<EpochTicker, PolicyError> {
        let shared = in_flight.clone();
        let thread = thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || run(&engine, &shared, tick))
            .map_err(|e| PolicyError::Engine(format!("cannot start the epoch ticker: {e}")))?;
        Ok(EpochTicker {
            tick,
            in_flight,
            thread: Some(thread),
        })
    }
}

fn run(engine: &Engine, in_flight: &InFlight, tick: Duration) {
    loop {
        {
            let mut s = in_flight.lock();
            while s.in_flight == 0 && !s.stopping {
                s.ticker_idle = true;
                s = in_flight.busy.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            s.ticker_idle = false;
            if s.stopping {
                return;
            }
        }
        thread::sleep(tick);
        engine.increment_epoch();
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        {
            let mut s = self.in_flight.lock();
            s.stopping = true;
            self.in_flight.busy.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Polls `cond` until it holds or `deadline` passes.
    fn eventually(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            if cond() {
                return true;
            }
            thread::sleep(Duration::from_millis(1));
        }
        cond()
    }

    #[test]
    fn the_gate_holds_callers_beyond_the_limit_until_a_slot_frees() {
        let gate = InFlight::new(1);
        let first = gate.enter();
        let second = {
            let gate = gate.clone();
            thread::spawn(move || drop(gate.enter()))
        };
        assert!(eventually(Duration::from_secs(5), || gate.lock().waiting == 1));
        assert!(!second.is_finished(), "entered past the limit");
        drop(first);
        second.join().unwrap();
        assert_eq!(gate.lock().in_flight, 0);
    }

    #[test]
    fn the_ticker_sleeps_while_nothing_runs_and_ticks_while_something_does() {
        let engine = Engine::new(wasmtime::Config::new().epoch_interruption(true)).unwrap();
        let gate = InFlight::new(4);
        let ticker =
            EpochTicker::start(engine.clone(), gate.clone(), Duration::from_millis(1)).unwrap();
        assert!(eventually(Duration::from_secs(5), || gate
            .lock()
            .ticker_idle));

        let slot = gate.enter();
        assert!(!gate.lock().ticker_idle);
        // The epoch is not readable from outside; a store's deadline shows it moving.
        let mut store = wasmtime::Store::new(&engine, ());
        store.set_epoch_deadline(3);
        let wasm = wat::parse_str(r#"(module (func (export "spin") (loop br 0)))"#).unwrap();
        let module = wasmtime::Module::new(&engine, wasm).unwrap();
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let spin = instance
            .get_typed_func::<(), ()>(&mut store, "spin")
            .unwrap();
        let err = spin.call(&mut store, ()).unwrap_err();
        assert_eq!(
            err.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::Interrupt)
        );

        drop(slot);
        assert!(eventually(Duration::from_secs(5), || gate
            .lock()
            .ticker_idle));
        drop(ticker);
    }
}
