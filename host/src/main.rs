//! The `mcpproxy` binary: parses the command line and runs a command from the library.

fn main() {}
