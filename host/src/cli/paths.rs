//! Where things are: the config file, the data dir and the log dir, resolved the same way by
//! `serve` and by the client commands so that they find each other.

use std::path::{Path, PathBuf};

use super::GlobalArgs;

/// `--config`, else `~/.mcpproxy/mcp_config.json`.
pub fn config_path(global: &GlobalArgs) -> PathBuf {
    global
        .config
        .clone()
        .unwrap_or_else(crate::config::default_config_path)
}

/// `--data-dir`, else the config's `data_dir`, else `~/.mcpproxy`.
pub fn data_dir(global: &GlobalArgs, from_config: Option<&Path>) -> PathBuf {
    global
        .data_dir
        .clone()
        .or_else(|| from_config.map(Path::to_path_buf))
        .unwrap_or_else(crate::config::default_data_dir)
}

/// The data dir of this invocation: `--data-dir`, else the config's `data_dir` (a missing
/// or broken config only loses that hint), else `~/.mcpproxy`.
pub fn resolved_data_dir(global: &GlobalArgs) -> PathBuf {
    let from_config = crate::config::load::read(&config_path(global))
        .ok()
        .and_then(|c| c.data_dir);
    data_dir(global, from_config.as_deref())
}

/// `--log-dir`, else `~/.local/state/mcpproxy/logs`.
pub fn log_dir(global: &GlobalArgs) -> PathBuf {
    global.log_dir.clone().unwrap_or_else(|| {
        dirs::state_dir()
            .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
            .unwrap_or_else(std::env::temp_dir)
            .join("mcpproxy/logs")
    })
}

/// The token client commands send: `--token` / `MCPPROXY_TOKEN`, else the data dir's
/// admin token, if there is one (with `auth: none` none is needed).
pub fn token(global: &GlobalArgs, data_dir: &Path) -> Option<String> {
    if let Some(token) = &global.token {
        return Some(token.trim().to_string());
    }
    crate::auth::TokenStore::new(data_dir).admin_token()
}
