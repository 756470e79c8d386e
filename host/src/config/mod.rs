//! Configuration: the internal model, loading and validation, generation-stamped saves, and
//! the diff that drives reloads.
//!
//! `ConfigStore` (in `store`) is the only code that writes the config file; everything else
//! reads `Config` values or asks the store for an edit.

pub mod access;
pub mod diff;
pub mod duration;
pub mod edit;
pub mod error;
pub mod load;
pub mod model;
pub mod paths;
pub mod save;
pub mod state;
pub mod store;
pub mod suppress;

pub use diff::{Change, ChangeKind, ChangeTarget, ConfigDiff, diff};
pub use edit::ConfigEdit;
pub use error::ConfigError;
pub use model::{Config, PolicyConfig, Protocol, ServerConfig};
pub use paths::{default_config_path, default_data_dir, ensure_default};
pub use store::{ConfigStats, ConfigStore, ConfigUpdate, ReloadCause, StoreOptions};
pub use suppress::OutsideEdit;
