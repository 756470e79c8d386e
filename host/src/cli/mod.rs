//! The `mcpproxy` command line: argument definitions and dispatch, one file per command group.
//!
//! Commands that talk to a running daemon (`call`, `upstream`, `status`, `stdio`) find it
//! through the same config and data dir as `serve` (see `paths`), and send `--token`, else
//! the admin token the daemon keeps there.

mod client_cmds;
mod edit_route;
mod import_cmds;
pub mod paths;
mod policy_cmds;
mod serve;
mod status_text;
mod token_cmds;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// One MCP endpoint over many upstream MCP servers.
#[derive(Debug, Parser)]
#[command(name = "mcpproxy", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Config file [default: ~/.mcpproxy/mcp_config.json].
    #[arg(long, global = true, env = "MCPPROXY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (lock file, caches, state) [default: `data_dir` from the config, else ~/.mcpproxy].
    #[arg(long, global = true, env = "MCPPROXY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log directory [default: ~/.local/state/mcpproxy/logs].
    #[arg(long, global = true)]
    pub log_dir: Option<PathBuf>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive list.
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    /// The token client commands send [default: the data dir's admin-token].
    #[arg(long, global = true, env = "MCPPROXY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Serve(ServeArgs),
    /// Call a tool of the running daemon and print its JSON result.
    #[command(subcommand)]
    Call(CallCommand),
    /// Inspect and approve upstream servers of the running daemon.
    #[command(subcommand)]
    Upstream(UpstreamCommand),
    /// Show the running daemon's status.
    Status {
        /// Print the full status document as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bridge stdio to the running daemon, for MCP clients that only launch stdio servers.
    Stdio {
        /// The endpoint to bridge: `/mcp`, `/mcp/all` or `/mcp/server/<name>`.
        #[arg(long, default_value = "/mcp")]
        endpoint: String,
    },
    /// Check and author policy components.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// List, create and revoke the tokens clients use (works whether the daemon runs or not).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the dashboard's sign-in link (it carries the admin token, or --token), and open
    /// it in a browser with --open.
    Ui {
        #[arg(long)]
        open: bool,
    },
    /// Bring in the servers other MCP clients have: Claude Desktop, Cursor, VS Code, Claude
    /// Code, mcpproxy-go. Shows what is added, skipped (already here) or a conflict (the
    /// name is taken by a different server: never overwritten).
    Import {
        /// claude-desktop, cursor, vscode, claude-code, mcpproxy-go, or a FILE [default: every
        /// client's files that exist].
        #[arg(long)]
        from: Option<String>,
        /// Show what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List the tokens: name, scope, when made (never the tokens themselves).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make a token and print it: the only time it is shown.
    Create {
        name: String,
        /// `read`: tools, resources, prompts, status; `admin`: also adding, removing,
        /// enabling, disabling and restarting servers.
        #[arg(long, default_value = "read", value_parser = ["read", "admin"])]
        scope: String,
        /// Only these servers are shown to the token (names or patterns with `*` and `?`,
        /// comma-separated) [default: every server].
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        servers: Option<Vec<String>>,
        /// Only these tools are shown to the token, as `server:tool` patterns
        /// (comma-separated, e.g. `github:get_*,*:search`) [default: every tool].
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        tools: Option<Vec<String>>,
    },
    /// Revoke a token: requests with it are refused from the next one on.
    Revoke { name: String },
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address of the MCP endpoint [default: `listen` from the config, else 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Policy component to use instead of the config's `policy.path` / the embedded default.
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CallCommand {
    /// Call one tool: `mcpproxy call tool --tool-name=upstream_servers --json_args='{"operation":"list"}'`.
    Tool {
        /// The tool: `retrieve_tools`, `call_tool`, `upstream_servers`.
        #[arg(long = "tool-name")]
        tool_name: String,
        /// The tool's arguments as a JSON object.
        #[arg(long = "json_args", visible_alias = "json-args", default_value = "{}")]
        json_args: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UpstreamCommand {
    /// List upstream servers and their states.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Trust a quarantined server, or a server's changed tools: what it offers now is shown
    /// from now on (and recorded as approved).
    Approve { name: String },
    /// Add a server: `add NAME --url URL`, or `add NAME -- COMMAND ARGS...`. Through the
    /// running daemon (started at once), else saved for its next start.
    Add {
        name: String,
        /// The server's URL (streamable HTTP or SSE, found out on connect).
        #[arg(long)]
        url: Option<String>,
        /// The command and its arguments, after `--`.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Remove a server from the config (stopping it, if the daemon runs).
    Remove { name: String },
}

/// The per-call limits a policy is tried under; a JS or Python policy needs more than the
/// daemon's defaults (10 ms, 16 MiB), as it would in the config's `policy` section.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LimitArgs {
    /// Longest a decision may run, in milliseconds (the config's `policy.deadline_ms`).
    #[arg(long, value_name = "MS")]
    pub deadline_ms: Option<u64>,
    /// Linear memory cap per decision, in MiB (the config's `policy.memory_limit_mib`).
    #[arg(long, value_name = "MIB")]
    pub memory_limit_mib: Option<u64>,
}

impl From<LimitArgs> for crate::contract::GivenLimits {
    fn from(args: LimitArgs) -> Self {
        crate::contract::GivenLimits {
            deadline_ms: args.deadline_ms,
            memory_limit_mib: args.memory_limit_mib,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Load a policy component, check its world, run `configure` and the smoke scenarios.
    /// Exits non-zero when a decision fails (trap, timeout, limit, invalid answer).
    Check {
        file: PathBuf,
        /// Settings JSON handed to `configure`.
        #[arg(long, default_value = "{}")]
        settings: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Dry-run a policy on a scenario of events over time; prints a timeline of its decisions and
    /// exits non-zero when a decision differs from the scenario's expectations.
    Test {
        policy: PathBuf,
        #[arg(long)]
        scenario: PathBuf,
        /// Settings JSON handed to `configure` (overrides the scenario's).
        #[arg(long)]
        settings: Option<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Create a policy project (Rust, JavaScript or Python) that builds and passes `policy check`.
    New {
        #[arg(long, value_parser = ["rust", "js", "python"])]
        lang: String,
        /// Project name; also the folder created in the current directory.
        name: String,
    },
    /// Make a minisign key pair for signing policy bundles: PREFIX.pub and PREFIX.key.
    Keygen {
        /// Output prefix, e.g. `keys/acme`.
        prefix: PathBuf,
    },
    /// Pack, sign, verify and inspect signed policy bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Pack a directory holding `manifest.json` and its files into an unsigned `.tar` bundle.
    Pack {
        dir: PathBuf,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Sign a bundle's manifest with a minisign secret key (`manifest.json.minisig`).
    Sign {
        bundle: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
    /// Verify a bundle's signature, file list, hashes, expiry and world.
    Verify {
        bundle: PathBuf,
        #[arg(long)]
        pubkey: PathBuf,
    },
    /// Show a bundle's manifest.
    Inspect { bundle: PathBuf },
}

/// `mcpproxy status | head`: a reader that stops early ends a command quietly, as for other
/// command-line tools, instead of a panic on the next `println!`. Not for `serve`, which
/// must outlive a closed terminal or log pipe.
fn quiet_on_closed_pipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: at start-up, before any thread exists; SIG_DFL installs no handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// Parse the command line and run the command. The binary's `main` is just this.
pub fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    match cli.command {
        Command::Serve(args) => serve::run(&cli.global, args),
        Command::Call(CallCommand::Tool {
            tool_name,
            json_args,
        }) => client_cmds::call_tool(&cli.global, &tool_name, &json_args),
        Command::Upstream(UpstreamCommand::List { json }) => {
            client_cmds::upstream_list(&cli.global, json)
        }
        Command::Upstream(UpstreamCommand::Approve { name }) => {
            client_cmds::upstream_approve(&cli.global, &name)
        }
        Command::Upstream(UpstreamCommand::Add { name, url, command }) => {
            import_cmds::upstream_add(&cli.global, &name, url.as_deref(), &command)
        }
        Command::Upstream(UpstreamCommand::Remove { name }) => {
            import_cmds::upstream_remove(&cli.global, &name)
        }
        Command::Ui { open } => client_cmds::ui(&cli.global, open),
        Command::Import { from, dry_run } => {
            import_cmds::import(&cli.global, from.as_deref(), dry_run)
        }
        Command::Status { json } => client_cmds::status(&cli.global, json),
        Command::Stdio { endpoint } => client_cmds::stdio(&cli.global, &endpoint),
        Command::Policy(command) => policy_cmds::run(command),
        Command::Token(command) => token_cmds::run(&cli.global, command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_tool_accepts_the_documented_spellings() {
        for argv in [
            &[
                "mcpproxy",
                "call",
                "tool",
                "--tool-name=upstream_servers",
                "--json_args={\"operation\":\"list\"}",
            ][..],
            &[
                "mcpproxy",
                "call",
                "tool",
                "--tool-name",
                "upstream_servers",
                "--json-args",
                "{\"operation\":\"list\"}",
            ],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap();
            match cli.command {
                Command::Call(CallCommand::Tool {
                    tool_name,
                    json_args,
                }) => {
                    assert_eq!(tool_name, "upstream_servers");
                    assert_eq!(json_args, r#"{"operation":"list"}"#);
                }
                other => panic!("parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn global_config_works_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "mcpproxy",
            "upstream",
            "list",
            "--config",
            "/x/c.json",
            "--json",
        ])
        .unwrap();
        assert_eq!(
            cli.global.config.as_deref(),
            Some(std::path::Path::new("/x/c.json"))
        );
    }
}
