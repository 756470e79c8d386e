//! The supervisor: one actor per upstream server (its state machine), the registry that
//! applies plans to them, and the pure planner that turns a config update into steps.
//!
//! Only an actor connects its server; everything else goes through the `Registry`, and a
//! server's config reaches it only as a plan step made from a config update. It never writes
//! config files itself: auto-disables and quarantines are handed to a `DecisionSink`, which
//! takes them to the config store.

mod actor;
pub mod plan;
pub mod registry;
pub mod testing;

#[cfg(test)]
mod tests;

pub use actor::{ActorSettings, Approved, CONNECT_GRACE};
pub use plan::{PlanStep, initial_plan, plan};
pub use registry::{Progress, Registry, RegistryOptions};

/// Where the policy's decisions about a server are persisted (the daemon connects it to the
/// config store). Fire-and-forget: it must not block.
pub trait DecisionSink: Send + Sync + 'static {
    /// `should-disable` said disable.
    fn auto_disabled(&self, server: &str, reason: &str);
    /// `review-tools` said quarantine the server.
    fn quarantined(&self, server: &str, reason: &str);
}

/// Why a registry command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    #[error("no server named {0}")]
    UnknownServer(String),
    #[error("server {0} was stopped")]
    Stopped(String),
    #[error("server {server} is {state}: enable it first")]
    NotStartable { server: String, state: &'static str },
    #[error("server {server}: {message}")]
    Approval { server: String, message: String },
}
