//! `mcpproxy import`: bringing in the servers other MCP clients already run.
//!
//! - `sources`: which clients we know and where their configs live (Linux and macOS);
//! - `formats`: reading their files (`mcpServers` keyed by name, VS Code's `servers`,
//!   Claude Code's per-project entries, mcpproxy-go's array) into `mcpServers` entries of
//!   ours;
//! - `plan`: what an import would do to the running config (add, skip, conflict), pure.
//!
//! The merge itself is one `ConfigEdit::Import`, applied by the config store like every other
//! change (see `cli::import_cmds`).

pub mod formats;
pub mod plan;
pub mod sources;

pub use formats::{Candidate, read_file};
pub use plan::{Outcome, Plan, plan};
pub use sources::Source;
