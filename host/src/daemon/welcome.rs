//! What `serve` prints on a first run (a config with no servers): the client snippet to paste,
//! and how to add servers. Pure: `serve` prints the text on stdout, never into the logs,
//! since it may carry the admin token.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;

/// What the text needs.
pub struct Welcome<'a> {
    pub listen: SocketAddr,
    /// The admin token, when tokens are on and its file is there.
    pub token: Option<&'a str>,
    /// This binary, as the stdio snippet starts it.
    pub exe: &'a Path,
    /// `--config` / `--data-dir` the CLI commands need to find this daemon; empty for the
    /// defaults.
    pub cli_args: &'a [String],
}

impl Welcome<'_> {
    pub fn text(&self) -> String {
        let url = format!("http://{}/mcp/all", self.listen);
        let mut http = json!({"type": "http", "url": url});
        if let Some(token) = self.token {
            http["headers"] = json!({"Authorization": format!("Bearer {token}")});
        }
        let mut stdio_args = self.cli_args.to_vec();
        stdio_args.extend(["stdio".to_string(), "--endpoint".into(), "/mcp/all".into()]);
        let stdio = json!({"command": self.exe, "args": stdio_args});
        let cli = match self.cli_args.is_empty() {
            true => "mcpproxy".to_string(),
            false => format!("mcpproxy {}", self.cli_args.join(" ")),
        };
        let snippet = |server: serde_json::Value| json!({"mcpServers": {"mcpproxy": server}});
        format!(
            "mcpproxy is running, with no servers yet.\n\
             \n\
             Connect a client (Claude Code, Cursor, VS Code, ...) by adding to its MCP config:\n\
             \x20 {}\n\
             or, for a client that only starts stdio servers:\n\
             \x20 {}\n\
             \n\
             Add servers:\n\
             \x20 {cli} import                      # from Claude Desktop, Cursor, VS Code, Claude Code, mcpproxy-go\n\
             \x20 {cli} upstream add NAME -- COMMAND ARGS...\n\
             \x20 {cli} upstream add NAME --url URL\n",
            snippet(http),
            snippet(stdio),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snippets_parse_and_name_the_address_and_token() {
        let welcome = Welcome {
            listen: "127.0.0.1:8080".parse().unwrap(),
            token: Some("mcpp_x"),
            exe: Path::new("/usr/bin/mcpproxy"),
            cli_args: &["--config".into(), "/c.json".into()],
        };
        let text = welcome.text();
        let snippets: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l.trim()).ok())
            .collect();
        let http = &snippets[0]["mcpServers"]["mcpproxy"];
        assert_eq!(http["url"], "http://127.0.0.1:8080/mcp/all");
        assert_eq!(http["headers"]["Authorization"], "Bearer mcpp_x");
        let stdio = &snippets[1]["mcpServers"]["mcpproxy"];
        assert_eq!(
            stdio["args"],
            json!(["--config", "/c.json", "stdio", "--endpoint", "/mcp/all"])
        );
        assert!(text.contains("mcpproxy --config /c.json import"), "{text}");

        let open = Welcome {
            token: None,
            cli_args: &[],
            ..welcome
        };
        let text = open.text();
        assert!(!text.contains("Authorization"), "{text}");
        assert!(
            text.contains("  mcpproxy upstream add NAME --url URL"),
            "{text}"
        );
    }
}
