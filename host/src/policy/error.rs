//! The policy host's errors. Every message names the policy (its path or "embedded").

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy {source_name}: cannot read {path}: {error}")]
    Read {
        source_name: String,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("policy {source_name}: not a valid WebAssembly component: {message}")]
    Compile {
        source_name: String,
        message: String,
    },
    #[error("policy {source_name}: {message}")]
    World {
        source_name: String,
        message: String,
    },
    #[error(
        "policy {source_name}: imports `{import}`, which mcpproxy does not provide to policies (only `mcpproxy:policy/host` and WASI 0.2 without `wasi:http`, with no access)"
    )]
    UnknownImport { source_name: String, import: String },
    #[error("policy {source_name}: cannot be instantiated: {message}")]
    Link {
        source_name: String,
        message: String,
    },
    #[error("policy {source_name}: settings rejected by `configure`: {message}")]
    Configure {
        source_name: String,
        message: String,
    },
    #[error("policy {source_name}: settings are not valid JSON text: {message}")]
    Settings {
        source_name: String,
        message: String,
    },
    #[error("policy {source_name}: smoke test failed on {scenario}: {message}")]
    SmokeTest {
        source_name: String,
        scenario: String,
        message: String,
    },
    #[error("policy engine: {0}")]
    Engine(String),
}
