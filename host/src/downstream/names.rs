//! Tool names as downstream clients see them: `server:tool` for `/mcp`'s `call_tool`, and
//! `server__tool` for the tools served directly at `/mcp/all`. Pure functions only.

use thiserror::Error;

/// Joins server and tool in the names served at `/mcp/all`.
pub const DIRECT_SEPARATOR: &str = "__";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("tool name {0:?} must have the form \"server:tool\"")]
    NotQualified(String),
}

/// Splits `server:tool` at the first `:` (tool names may contain more).
pub fn parse_qualified(name: &str) -> Result<(&str, &str), NameError> {
    match name.split_once(':') {
        Some((server, tool)) if !server.is_empty() && !tool.is_empty() => Ok((server, tool)),
        _ => Err(NameError::NotQualified(name.to_string())),
    }
}

/// The name of `server`'s `tool` at `/mcp/all`.
pub fn direct_name(server: &str, tool: &str) -> String {
    format!("{server}{DIRECT_SEPARATOR}{tool}")
}

/// How many hits `retrieve_tools` returns: the client's `limit` if it gave a positive one,
/// else the configured `tools_limit` (at least one).
pub fn effective_limit(requested: Option<usize>, tools_limit: usize) -> usize {
    match requested {
        Some(limit) if limit > 0 => limit,
        _ => tools_limit.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_qualified_cases() {
        let cases: [(&str, Option<(&str, &str)>); 7] = [
            ("fs:read_file", Some(("fs", "read_file"))),
            ("srv:ns:tool", Some(("srv", "ns:tool"))),
            ("fs__read_file", None),
            (":tool", None),
            ("server:", None),
            ("", None),
            ("no-colon", None),
        ];
        for (input, want) in cases {
            match want {
                Some(pair) => assert_eq!(parse_qualified(input), Ok(pair), "{input:?}"),
                None => assert_eq!(
                    parse_qualified(input),
                    Err(NameError::NotQualified(input.to_string())),
                    "{input:?}"
                ),
            }
        }
    }

    #[test]
    fn not_qualified_error_names_the_input() {
        let err = parse_qualified("echo").unwrap_err();
        assert_eq!(
            err.to_string(),
            "tool name \"echo\" must have the form \"server:tool\""
        );
    }

    #[test]
    fn direct_name_joins_with_double_underscore() {
        assert_eq!(direct_name("fs", "read_file"), "fs__read_file");
    }

    #[test]
    fn effective_limit_cases() {
        let cases = [
            (None, 15, 15),
            (Some(3), 15, 3),
            (Some(0), 15, 15),
            (Some(100), 15, 100),
            (None, 0, 1),
        ];
        for (requested, tools_limit, want) in cases {
            assert_eq!(
                effective_limit(requested, tools_limit),
                want,
                "{requested:?} {tools_limit}"
            );
        }
    }
}
