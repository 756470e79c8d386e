//! mcpproxy's integration tests, in one binary: one module per area, against real processes,
//! sockets, files and clients. One binary links wasmtime, rmcp and tokio once (22 binaries did
//! it 22 times: ~190 MB each, minutes of linking, and a CI run out of disk).
//!
//! Run one area with `cargo test --test it daemon_reload::`.

// Shared support.
mod bundle_common;
mod common;
mod downstream_support;
mod guest;
mod human_output;
mod import;
mod policy_examples_support;
mod upstream_support;

// The areas.
mod auth;
mod bundle_cli;
mod bundle_minisign_cli;
mod bundle_store;
mod bundle_verify;
mod config_store;
mod conformance;
mod daemon_e2e;
mod daemon_pin;
mod daemon_real_clients;
mod daemon_reload;
mod dashboard;
mod downstream_bridge;
mod downstream_server;
mod fault_matrix;
mod fidelity;
mod origin_host;
mod policy_build;
mod policy_cli;
mod policy_default;
mod policy_examples;
mod policy_misbehave;
mod policy_per_hook;
mod policy_scaffold;
mod policy_simulate;
mod policy_under_load;
mod quarantine;
mod revisions;
mod scale_out;
mod secrets;
mod tasks;
mod token_profiles;
mod tool_pinning;
mod upstream_http;
mod upstream_stdio;
