//! The wasmtime `Engine` shared by all policies of one host, its instance pool, and the
//! epoch ticker that enforces per-decision deadlines.
//!
//! Every decision instantiates the policy afresh, so instantiation is most of a decision's
//! cost. The pooling allocator keeps linear memories, tables and instance slots mapped
//! between decisions (and a slot is reused by the module it last held), which takes the
//! `mmap`/`munmap` and most page faults out of each call. The pool holds
//! `CONCURRENT_INSTANCES` component instances; callers beyond that wait for a free one
//! (`in_flight`) instead of failing, so a burst of decisions queues for microseconds rather
//! than falling back. Where the pool cannot be reserved (a tight `ulimit -v`), the engine
//! allocates per instance, as wasmtime does by default.
//!
//! The ticker (`in_flight::EpochTicker`) bumps the epoch every `tick_for(deadline)` (a
//! millisecond, or a quarter of a start-up deadline below 4 ms) while decisions run; a
//! decision's `Store` gets `ticks_for` its deadline, so it reaches the deadline at most one
//! tick late, whatever deadline a later config or bundle sets (and then its CPU time decides,
//! see `deadline`).

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::error::PolicyError;
use super::in_flight::InFlight;
pub use super::in_flight::{EpochTicker, SlotGuard};
use super::store::{MAX_INSTANCES, MAX_MEMORIES, MAX_TABLE_ELEMENTS, MAX_TABLES};

/// The calls made while loading a policy (`configure`, the smoke test) get this many times
/// a decision's ticks, so a busy machine does not get a good policy refused.
pub const SETUP_DEADLINE_FACTOR: u64 = 20;

/// Policy component instances alive at once (decisions, `configure` calls and smoke tests);
/// further callers wait for a slot. Decisions take tens of microseconds, so this is ample.
pub const CONCURRENT_INSTANCES: u32 = 8;

/// The engine all of one host's policies are compiled for, and the gate to its pool.
#[derive(Clone)]
pub struct PolicyEngine {
    pub engine: Engine,
    /// The component instances the pool holds; `None`: no pool, allocated per decision.
    pub pool_size: Option<u32>,
    in_flight: Arc<InFlight>,
}

impl PolicyEngine {
    pub fn new() -> Result<PolicyEngine, PolicyError> {
        let pooled = Engine::new(&config(Some(pool())));
        let (engine, pool_size) = match pooled {
            Ok(engine) => (engine, Some(CONCURRENT_INSTANCES)),
            Err(e) => {
                tracing::warn!(
                    "cannot reserve the policy instance pool ({e:#}); \
                     policy instances are allocated per decision"
                );
                let engine = Engine::new(&config(None))
                    .map_err(|e| PolicyError::Engine(format!("{e:#}")))?;
                (engine, None)
            }
        };
        Ok(PolicyEngine {
            engine,
            pool_size,
            in_flight: InFlight::new(pool_size.map_or(usize::MAX, |n| n as usize)),
        })
    }

    /// Waits for room for one more instance; the room is given back when the guard drops.
    pub fn slot(&self) -> SlotGuard {
        self.in_flight.enter()
    }

    /// Starts the epoch ticker for decisions with `deadline` (it ticks only while they run).
    pub fn ticker(&self, deadline: Duration) -> Result<EpochTicker, PolicyError> {
        EpochTicker::start(
            self.engine.clone(),
            self.in_flight.clone(),
            tick_for(deadline),
        )
    }
}

fn config(pool: Option<PoolingAllocationConfig>) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if let Some(pool) = pool {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// A pool for `CONCURRENT_INSTANCES` component instances, each within the limits
/// `StoreState` enforces (so the pool never refuses what the store limits allow).
fn pool() -> PoolingAllocationConfig {
    let components = CONCURRENT_INSTANCES;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(components)
        .total_core_instances(components * MAX_INSTANCES as u32)
        .total_memories(components * MAX_MEMORIES as u32)
        .total_tables(components * MAX_TABLES as u32)
        .total_stacks(0)
        .max_core_instances_per_component(MAX_INSTANCES as u32)
        .max_memories_per_component(MAX_MEMORIES as u32)
        .max_tables_per_component(MAX_TABLES as u32)
        .max_memories_per_module(MAX_MEMORIES as u32)
        .max_tables_per_module(MAX_TABLES as u32)
        .table_elements(MAX_TABLE_ELEMENTS)
        // What a 32-bit memory can address, which each slot reserves anyway: the per-policy
        // memory cap is the store limiter's (`StoreState`), and may change with the policy.
        .max_memory_size(1 << 32)
        // Caps on instance metadata, not reservations: JS and Python components have
        // large ones.
        .max_core_instance_size(16 << 20)
        .max_component_instance_size(64 << 20);
    pool
}

/// The ticker's period for a start-up `deadline`: fine enough to keep any deadline to within
/// a millisecond, and to within a quarter of a start-up deadline shorter than that.
pub fn tick_for(deadline: Duration) -> Duration {
    (deadline / 4).clamp(MIN_TICK, MAX_TICK)
}

const MIN_TICK: Duration = Duration::from_micros(100);
const MAX_TICK: Duration = Duration::from_millis(1);

/// Epoch ticks for `deadline` on a ticker of period `tick`: at least the deadline and at
/// most one tick more (a deadline shorter than the tick is rounded up to it).
pub fn ticks_for(deadline: Duration, tick: Duration) -> u64 {
    let tick = tick.max(MIN_TICK).as_nanos();
    (deadline.as_nanos().div_ceil(tick) as u64)
        .saturating_add(1)
        .max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_deadline_is_kept_to_within_a_quarter_of_it_or_a_millisecond() {
        for ms in [1, 3, 10, 100, 250] {
            let d = Duration::from_millis(ms);
            let tick = tick_for(d);
            assert!(tick <= d / 4 && tick <= Duration::from_millis(1), "{ms} ms");
            let ticks = ticks_for(d, tick);
            assert!(tick * (ticks - 1) as u32 >= d, "{ms} ms: {ticks} ticks");
            assert!(
                tick * (ticks - 1) as u32 <= d + tick,
                "{ms} ms: {ticks} ticks"
            );
        }
    }

    #[test]
    fn other_deadlines_get_at_least_their_length_and_at_most_a_tick_more() {
        let tick = tick_for(Duration::from_millis(10)); // 1 ms
        for ms in [1u64, 3, 10, 50, 100, 1000] {
            let d = Duration::from_millis(ms);
            let ticks = ticks_for(d, tick);
            // The first tick may come at once: `ticks - 1` whole ticks always elapse.
            let at_least = tick * (ticks - 1) as u32;
            assert!(at_least >= d, "{ms} ms: {ticks} ticks");
            assert!(at_least <= d + tick, "{ms} ms: {ticks} ticks");
        }
    }
}
