//! Commands that talk to the running daemon: `call tool`, `upstream list`, `status`, `stdio`.
//! They find it through the config and data dir, exactly as `serve` resolves them.

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::Value;

use super::{GlobalArgs, paths};
use crate::daemon::lock::{RuntimeInfo, find_running};
use crate::downstream::client;
use crate::status::ServerList;

/// The running daemon this invocation refers to, and the token to send it.
struct Daemon {
    info: RuntimeInfo,
    token: Option<String>,
}

impl Daemon {
    fn base_url(&self) -> String {
        format!("http://{}", self.info.listen)
    }
}

fn daemon(global: &GlobalArgs) -> anyhow::Result<Daemon> {
    let data_dir = paths::resolved_data_dir(global);
    Ok(Daemon {
        info: find_running(&data_dir)?,
        token: paths::token(global, &data_dir),
    })
}

/// One tool call on a fresh session to the daemon's `/mcp`.
async fn call(
    daemon: &Daemon,
    tool: &str,
    args: serde_json::Map<String, Value>,
) -> anyhow::Result<Value> {
    let session = client::connect(&daemon.base_url(), daemon.token.as_deref()).await?;
    let result = session.call_tool(tool, args).await;
    session.close().await;
    Ok(result?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn call_tool(global: &GlobalArgs, tool: &str, json_args: &str) -> anyhow::Result<ExitCode> {
    let args: Value = serde_json::from_str(json_args)
        .with_context(|| format!("--json_args is not valid JSON: {json_args}"))?;
    let Value::Object(args) = args else {
        bail!("--json_args must be a JSON object, got: {json_args}")
    };
    let daemon = daemon(global)?;
    let result = runtime()?.block_on(call(&daemon, tool, args))?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(ExitCode::SUCCESS)
}

/// `upstream_servers` with `args` (a JSON object) on the daemon.
pub(super) fn upstream_servers(global: &GlobalArgs, args: Value) -> anyhow::Result<Value> {
    let daemon = daemon(global)?;
    let Value::Object(args) = args else {
        bail!("upstream_servers takes a JSON object, got: {args}")
    };
    runtime()?.block_on(call(&daemon, "upstream_servers", args))
}

pub fn upstream_list(global: &GlobalArgs, json: bool) -> anyhow::Result<ExitCode> {
    let result = upstream_servers(global, serde_json::json!({"operation": "list"}))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(ExitCode::SUCCESS);
    }
    let list: ServerList = serde_json::from_value(result).context("daemon's server list")?;
    print!("{}", table(&list));
    Ok(ExitCode::SUCCESS)
}

pub fn upstream_approve(global: &GlobalArgs, name: &str) -> anyhow::Result<ExitCode> {
    let answer = upstream_servers(
        global,
        serde_json::json!({"operation": "approve", "name": name}),
    )?;
    match answer.get("tools_approved").and_then(Value::as_u64) {
        Some(n) => {
            println!("approved {name}'s tools as it offers them now: {n} hidden tool(s) shown")
        }
        None => println!("approved {name}: its tools, resources and prompts are shown from now on"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `mcpproxy ui`: the link signs the browser in with the token, which stays in the URL's
/// fragment (never sent to the daemon as part of a URL, so in no server or proxy log).
pub fn ui(global: &GlobalArgs, open: bool) -> anyhow::Result<ExitCode> {
    let daemon = daemon(global)?;
    let link = match &daemon.token {
        Some(token) => format!("{}/ui/login#{token}", daemon.base_url()),
        None => format!("{}/ui", daemon.base_url()),
    };
    println!("{link}");
    if open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        let spawned = std::process::Command::new(opener).arg(&link).spawn();
        if let Err(e) = spawned {
            eprintln!("could not start {opener} ({e}): open the link above yourself");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(global: &GlobalArgs, json: bool) -> anyhow::Result<ExitCode> {
    let daemon = daemon(global)?;
    let status =
        runtime()?.block_on(client::status(&daemon.base_url(), daemon.token.as_deref()))?;
    let info = &daemon.info;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        let get = |k: &str| {
            status
                .get(k)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "mcpproxy {} (pid {}) at http://{}/mcp",
            get("version").trim_matches('"'),
            info.pid,
            info.listen
        );
        println!("config      {}", info.config.display());
        println!(
            "generation  {}   syncs {}   self-writes suppressed {}",
            get("config_generation"),
            get("config_syncs"),
            get("self_writes_suppressed")
        );
        let servers = serde_json::from_value::<crate::status::Summary>(status["servers"].clone());
        match servers {
            Ok(summary) => println!("servers     {}", summary.words()),
            Err(_) => println!("servers     {}", get("servers")),
        }
        if let Some(keys) = status["settings"]["restart_needed"]
            .as_array()
            .filter(|k| !k.is_empty())
        {
            let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
            println!("restart needed to apply the edited {}", keys.join(", "));
        }
        if let Some(edits) = status["config"]["superseded_edits"]
            .as_array()
            .filter(|e| !e.is_empty())
        {
            let edits: Vec<&str> = edits.iter().filter_map(Value::as_str).collect();
            println!(
                "superseded  by your file without a generation: {}",
                edits.join(", ")
            );
        }
        for line in super::status_text::policy_lines(&status) {
            println!("{line}");
        }
        match status["last_config_error"].as_str() {
            Some(error) => println!("LAST CONFIG ERROR (the running config is kept): {error}"),
            None => println!("config errors  none"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn stdio(global: &GlobalArgs, endpoint: &str) -> anyhow::Result<ExitCode> {
    if !(endpoint == "/mcp" || endpoint.starts_with("/mcp/")) {
        anyhow::bail!("--endpoint {endpoint:?}: expected /mcp, /mcp/all or /mcp/server/<name>");
    }
    let daemon = daemon(global)?;
    let url = format!("{}{endpoint}", daemon.base_url());
    let token = daemon.token.as_deref();
    runtime()?.block_on(crate::downstream::bridge::run_stdio(&url, token))?;
    Ok(ExitCode::SUCCESS)
}

/// `upstream list` as a fixed-width table.
fn table(list: &ServerList) -> String {
    let mut out = format!(
        "{:<28} {:<16} {:<14} {:>5} {:>8} {:>7}  {}\n",
        "NAME", "PROTOCOL", "STATE", "TOOLS", "ATTEMPTS", "PID", "LAST ERROR / REASON"
    );
    for s in &list.servers {
        let quarantined = s.quarantined.then(|| {
            let why = s
                .quarantine_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            format!(
                "quarantined{why}: nothing shown until `mcpproxy upstream approve {}`",
                s.name
            )
        });
        let note = quarantined
            .or_else(|| s.auto_disable_reason.clone())
            .or_else(|| s.last_error.clone())
            .unwrap_or_default();
        let pid = s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
        out += &format!(
            "{:<28} {:<16} {:<14} {:>5} {:>8} {:>7}  {}\n",
            s.name,
            s.protocol,
            s.connection_state.as_str(),
            s.tool_count,
            s.attempts,
            pid,
            note.lines().next().unwrap_or_default()
        );
        // Each hidden tool on a line of its own, under its server: the reason is the point.
        for t in &s.hidden_tools {
            out += &format!("    tool {} hidden: {}\n", t.name, t.reason);
        }
    }
    let by_state: Vec<String> = list
        .summary
        .by_state
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    out += &format!("{} servers ({})\n", list.summary.total, by_state.join(", "));
    let held = [
        (list.summary.quarantined, "quarantined"),
        (
            list.summary.tools_awaiting_approval,
            "tools awaiting approval",
        ),
    ];
    for (n, what) in held.into_iter().filter(|(n, _)| *n > 0) {
        out += &format!("{n} {what}\n");
    }
    out
}
