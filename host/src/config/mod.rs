//! Configuration: the internal model, loading and validation, the store that owns the running
//! config (generation-stamped saves, the debounced directory watcher), and the diff.
//!
//! `ConfigStore` (in `store`) is the only owner of the running config and the only code that
//! writes the config file; everything else reads the `Config` values it hands out or asks it
//! for an edit.

pub mod access;
#[cfg(test)]
pub mod arbitrary;
pub mod diff;
pub mod edit;
pub mod error;
pub mod load;
pub mod model;
pub mod paths;
pub mod save;
pub mod secrets;
pub mod state;
pub mod store;
pub mod suppress;
pub mod watch;

pub use diff::{connection_changed, diff};
pub use edit::ConfigEdit;
pub use error::ConfigError;
pub use model::{AuthMode, Config, GlobalKey, PolicyConfig, Protocol, ServerConfig};
pub use paths::{default_config_path, default_data_dir, ensure_default};
pub use store::{
    Applied, ConfigStats, ConfigStore, ConfigUpdate, ReloadCause, StoreOptions, UpdateCause,
};
pub use suppress::OutsideEdit;
