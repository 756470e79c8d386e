//! The per-decision `Store` state: resource limits, the policy's `log` import, and the
//! deny-all WASI context for components that import WASI.
//!
//! A fresh `StoreState` backs every decision, so nothing a policy does survives the call.
//! It must never grant a policy anything: no preopened directories, no environment, no
//! network, no inherited stdio.

use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::{v0_1, v0_2};
use super::deadline::CpuDeadline;

/// Most core instances one component instantiation may create (componentize-py needs > 8).
/// These limits also size the engine's instance pool (`engine.rs`).
pub(super) const MAX_INSTANCES: usize = 32;
/// Most tables and memories per instantiation.
pub(super) const MAX_TABLES: usize = 32;
pub(super) const MAX_MEMORIES: usize = 8;
/// Most elements in one table.
pub(super) const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Log lines a policy may write per decision; further lines are dropped.
const MAX_LOG_LINES_PER_CALL: u32 = 8;
/// Longest log line kept, in bytes.
const MAX_LOG_LINE: usize = 1024;

pub struct StoreState {
    pub limits: StoreLimits,
    /// The call's CPU-time budget, consulted when its epoch deadline passes.
    pub deadline: CpuDeadline,
    /// The policy's source, for log attribution.
    source: std::sync::Arc<str>,
    log_lines: u32,
    /// Created on first use: only WASI-importing components touch it, and building it costs
    /// more than the default policy's whole decision.
    wasi: Option<Box<(WasiCtx, ResourceTable)>>,
}

impl StoreState {
    pub fn new(memory_limit: usize, source: std::sync::Arc<str>, deadline: CpuDeadline) -> Self {
        StoreState {
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_limit)
                .instances(MAX_INSTANCES)
                .tables(MAX_TABLES)
                .memories(MAX_MEMORIES)
                .table_elements(MAX_TABLE_ELEMENTS)
                // A memory bomb traps (and is counted) instead of seeing `-1` and carrying on.
                .trap_on_grow_failure(true)
                .build(),
            deadline,
            source,
            log_lines: 0,
            wasi: None,
        }
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let wasi = self
            .wasi
            .get_or_insert_with(|| Box::new((deny_all_wasi(), ResourceTable::new())));
        WasiCtxView {
            ctx: &mut wasi.0,
            table: &mut wasi.1,
        }
    }
}

/// WASI with nothing behind it. `WasiCtx::builder()` already gives no args, env or preopened
/// directories, a closed stdin and discarding stdout/stderr; on top, sockets are off, the
/// clocks are frozen at zero and "random" is all zeros, so a decision cannot depend on time or
/// on anything but its arguments (the event's `seed` is the policy's randomness).
fn deny_all_wasi() -> WasiCtx {
    WasiCtx::builder()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .secure_random(ZeroRandom)
        .insecure_random(ZeroRandom)
        .insecure_random_seed(0)
        .build()
}

/// A "random" source that always answers zeros: WASI guests (Rust std, componentize-py)
/// read random bytes at start-up for hash seeds; they get the same bytes every time.
struct ZeroRandom;

impl rand_core_wasi::TryRng for ZeroRandom {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(0);
        Ok(())
    }
}

struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl v0_2::mcpproxy::policy::types::Host for StoreState {}
impl v0_1::mcpproxy::policy::types::Host for StoreState {}

impl v0_2::mcpproxy::policy::host::Host for StoreState {
    fn log(&mut self, level: v0_2::mcpproxy::policy::types::LogLevel, message: String) {
        self.log(level.into(), &message);
    }
}

impl v0_1::mcpproxy::policy::host::Host for StoreState {
    fn log(&mut self, level: v0_1::mcpproxy::policy::types::LogLevel, message: String) {
        self.log(level.into(), &message);
    }
}

impl StoreState {
    /// The policy's `log` import, whichever world version it imports it from.
    fn log(&mut self, level: tracing::Level, message: &str) {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES_PER_CALL {
            return;
        }
        let mut end = message.len().min(MAX_LOG_LINE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let text = &message[..end];
        let source = &*self.source;
        match level {
            tracing::Level::ERROR => tracing::error!(policy = source, "{text}"),
            tracing::Level::WARN => tracing::warn!(policy = source, "{text}"),
            tracing::Level::INFO => tracing::info!(policy = source, "{text}"),
            _ => tracing::debug!(policy = source, "{text}"),
        }
    }
}
