//! The MCP clients whose configs `mcpproxy import` knows, and where each keeps them. Pure:
//! the home and working directories are given.

use std::path::{Path, PathBuf};

/// A client whose config can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    ClaudeDesktop,
    Cursor,
    Vscode,
    ClaudeCode,
    McpproxyGo,
}

impl Source {
    pub const ALL: [Source; 5] = [
        Source::ClaudeDesktop,
        Source::Cursor,
        Source::Vscode,
        Source::ClaudeCode,
        Source::McpproxyGo,
    ];

    /// The name `--from` takes.
    pub fn name(self) -> &'static str {
        match self {
            Source::ClaudeDesktop => "claude-desktop",
            Source::Cursor => "cursor",
            Source::Vscode => "vscode",
            Source::ClaudeCode => "claude-code",
            Source::McpproxyGo => "mcpproxy-go",
        }
    }

    pub fn from_name(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Where the client keeps its servers: the user's file(s) on Linux and macOS, then the
    /// project's in `cwd`. Not all exist.
    pub fn paths(self, home: &Path, cwd: &Path) -> Vec<PathBuf> {
        let mac = home.join("Library/Application Support");
        match self {
            Source::ClaudeDesktop => vec![
                home.join(".config/Claude/claude_desktop_config.json"),
                mac.join("Claude/claude_desktop_config.json"),
            ],
            Source::Cursor => vec![home.join(".cursor/mcp.json"), cwd.join(".cursor/mcp.json")],
            Source::Vscode => vec![
                home.join(".config/Code/User/mcp.json"),
                mac.join("Code/User/mcp.json"),
                cwd.join(".vscode/mcp.json"),
            ],
            Source::ClaudeCode => vec![home.join(".claude.json"), cwd.join(".mcp.json")],
            Source::McpproxyGo => vec![home.join(".mcpproxy/mcp_config.json")],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_paths_cover_both_systems() {
        for source in Source::ALL {
            assert_eq!(Source::from_name(source.name()), Some(source));
        }
        assert_eq!(Source::from_name("zed"), None);
        let paths = Source::ClaudeDesktop.paths(Path::new("/h"), Path::new("/p"));
        assert_eq!(
            paths,
            [
                PathBuf::from("/h/.config/Claude/claude_desktop_config.json"),
                PathBuf::from("/h/Library/Application Support/Claude/claude_desktop_config.json"),
            ]
        );
        let paths = Source::ClaudeCode.paths(Path::new("/h"), Path::new("/p"));
        assert_eq!(paths[1], PathBuf::from("/p/.mcp.json"));
    }
}
