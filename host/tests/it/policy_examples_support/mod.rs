//! Shared by `tests/it/policy_examples.rs` and `benches/policy_examples.rs`: building the example
//! policies in `examples/policies/` from source, and their `expected.json` decision tables
//! turned into the host's own types.

#![allow(dead_code)] // The test and the benchmark each use a different part.

pub mod expected;
pub mod from_source;
