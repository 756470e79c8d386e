//! wasmtime set up as mcpproxy's policy host sets it up: component model, epoch deadline,
//! store limits, deny-all WASI and a `log` import; a fresh `Store` for every call.
//! It must never grant a policy anything (no preopens, environment, network or inherited stdio).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../../../wit",
    world: "policy",
});

pub use mcpproxy::policy::types as wit;

/// The epoch advances every millisecond; a call may run `deadline_ms` ticks.
const TICK: Duration = Duration::from_millis(1);

pub struct State {
    limits: StoreLimits,
    wasi: WasiCtx,
    table: ResourceTable,
    pub logged: Vec<String>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wit::Host for State {}

impl mcpproxy::policy::host::Host for State {
    fn log(&mut self, level: wit::LogLevel, message: String) {
        self.logged.push(format!("{level:?}: {message}"));
    }
}

/// An engine with a ticking epoch; the ticker stops when this is dropped.
pub struct Host {
    pub engine: Engine,
    stop: Arc<AtomicBool>,
}

impl Host {
    pub fn new() -> Result<Host> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (ticking, stopped) = (engine.clone(), stop.clone());
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                thread::sleep(TICK);
                ticking.increment_epoch();
            }
        });
        Ok(Host { engine, stop })
    }

    /// Everything the policy may import: `mcpproxy:policy/host` and deny-all WASI p2.
    pub fn prepare(&self, component: &Component) -> Result<PolicyPre<State>> {
        let mut linker = Linker::<State>::new(&self.engine);
        Policy::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context("the component's imports")?;
        PolicyPre::new(pre)
            .map_err(anyhow::Error::from)
            .context("the component's exports")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Limits of one call; the same caps as mcpproxy's host (instances, tables, memories, elements).
#[derive(Clone, Copy)]
pub struct Limits {
    pub memory_bytes: usize,
    pub deadline_ms: u64,
}

/// A fresh store and instance, ready for one call.
pub fn instantiate(
    host: &Host,
    pre: &PolicyPre<State>,
    limits: Limits,
) -> Result<(Store<State>, Policy)> {
    let state = State {
        limits: StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .instances(32)
            .tables(32)
            .memories(8)
            .table_elements(100_000)
            .trap_on_grow_failure(true)
            .build(),
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        logged: Vec::new(),
    };
    let mut store = Store::new(&host.engine, state);
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(limits.deadline_ms);
    let policy = pre.instantiate(&mut store)?;
    Ok((store, policy))
}
