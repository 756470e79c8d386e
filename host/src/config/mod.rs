//! Configuration: the internal model, loading and validation, generation-stamped saves, and
//! the diff that drives reloads.

pub mod diff;
pub mod model;

pub use diff::{Change, ChangeKind, ChangeTarget, ConfigDiff};
pub use model::{Config, PolicyConfig, Protocol, ServerConfig};
