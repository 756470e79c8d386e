//! The `mcpproxy` binary: everything lives in the library; this only runs the CLI.

fn main() -> anyhow::Result<std::process::ExitCode> {
    mcpproxy::cli::main()
}
