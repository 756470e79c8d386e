//! `mcpproxy policy test`: a dry-run simulator that feeds a scenario (failures, ready servers,
//! config edits over time) through a policy exactly as the daemon would, and prints a timeline
//! of its decisions. Expectations in the scenario make the run fail, so policy authors can test
//! in their own CI.
//!
//! Never touches servers, the config file or the network: it only calls the policy.

mod cli;
mod report;
mod run;
mod scenario;
#[cfg(test)]
mod tests;

pub use cli::{Overrides, cli_run, run_files};
pub use report::{Report, Row};
pub use run::{event_seed, run};
pub use scenario::{
    Action, DEFAULT_WINDOW, Expect, ExpectVerdict, Range, Scenario, ScenarioError, Step,
};
