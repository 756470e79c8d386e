//! Names as downstream clients see them: `server:tool` for `/mcp`'s `call_tool`, and
//! `server__tool` (and `server__prompt`) at `/mcp/all`, shortened to `MAX_NAME_LEN`; the
//! proxy URIs of resources whose URI two servers claim. Pure functions only.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Joins server and tool in the names served at `/mcp/all`.
pub const DIRECT_SEPARATOR: &str = "__";

/// The longest tool name several LLM providers accept; longer prefixed names are shortened.
pub const MAX_NAME_LEN: usize = 64;

/// Hex digits of the hash that keeps a shortened name distinct.
const HASH_LEN: usize = 8;

/// The scheme of the URIs under which a resource is listed when another server, first by
/// name, lists the same URI: `mcpproxy://<server>/<the URI, percent-encoded>`.
pub const PROXY_URI_SCHEME: &str = "mcpproxy://";

/// What a proxy URI keeps as it is: unreserved characters.
const URI_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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

/// The name of `server`'s `tool` (or prompt) at `/mcp/all`: `server__tool`, or, when that
/// is longer than `MAX_NAME_LEN`, its first characters and a hash of the whole (the same
/// every time, so clients can keep it; routed through the catalog like any other name).
pub fn direct_name(server: &str, tool: &str) -> String {
    let full = format!("{server}{DIRECT_SEPARATOR}{tool}");
    if full.len() <= MAX_NAME_LEN {
        return full;
    }
    let hash = hex::encode(Sha256::digest(full.as_bytes()));
    let mut keep = MAX_NAME_LEN - HASH_LEN - 1;
    while !full.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}_{}", &full[..keep], &hash[..HASH_LEN])
}

/// The URI under which `server`'s resource `uri` is listed when another server has it too.
pub fn proxy_uri(server: &str, uri: &str) -> String {
    format!(
        "{PROXY_URI_SCHEME}{server}/{}",
        utf8_percent_encode(uri, URI_KEEP)
    )
}

/// The `(server, uri)` behind a proxy URI.
pub fn parse_proxy_uri(uri: &str) -> Option<(&str, String)> {
    let rest = uri.strip_prefix(PROXY_URI_SCHEME)?;
    let (server, encoded) = rest.split_once('/')?;
    let original = percent_decode_str(encoded).decode_utf8().ok()?;
    (!server.is_empty()).then(|| (server, original.into_owned()))
}

/// Whether `uri` is one that the RFC 6570 `template` expands to. Handles the forms MCP
/// servers use: `{var}` (no `/`, `?` or `#`), `{+var}` and `{#var}` (anything), `{/var}`
/// (a `/` segment), `{?a,b}` and `{&a}` (the query, to its end).
pub fn template_matches(template: &str, uri: &str) -> bool {
    match template.find('{') {
        None => template == uri,
        Some(open) => {
            let Some(close) = template[open..].find('}').map(|c| open + c) else {
                return template == uri;
            };
            let (literal, expression, rest) = (
                &template[..open],
                &template[open + 1..close],
                &template[close + 1..],
            );
            let Some(tail) = uri.strip_prefix(literal) else {
                return false;
            };
            let operator = expression.chars().next();
            if matches!(operator, Some('?') | Some('&')) {
                return rest.is_empty() || template_matches(rest, "");
            }
            let allowed = |c: char| match operator {
                Some('+') | Some('#') => true,
                Some('/') => c != '?' && c != '#',
                _ => !matches!(c, '/' | '?' | '#'),
            };
            // The shortest value first, then longer ones (backtracking over the rest).
            let mut end = 0;
            loop {
                if template_matches(rest, &tail[end..]) {
                    return true;
                }
                let Some(c) = tail[end..].chars().next() else {
                    return false;
                };
                if !allowed(c) {
                    return false;
                }
                end += c.len_utf8();
            }
        }
    }
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
    fn long_direct_names_are_shortened_the_same_way_every_time() {
        let tool = "a_tool_name_that_goes_on_and_on_and_on_and_on_and_on";
        let short = direct_name("some-server", tool);
        assert_eq!(short.len(), MAX_NAME_LEN);
        assert_eq!(short, direct_name("some-server", tool));
        assert!(short.starts_with("some-server__a_tool_name"), "{short}");
        // Names that share the kept prefix still differ.
        assert_ne!(short, direct_name("some-server", &format!("{tool}_2")));
        // Multi-byte characters are not cut in half.
        let wide = direct_name("s", &"é".repeat(40));
        assert!(wide.len() <= MAX_NAME_LEN, "{wide}");
        let exact = direct_name("s", &"x".repeat(MAX_NAME_LEN - 3));
        assert_eq!(exact.len(), MAX_NAME_LEN);
        assert_eq!(exact, format!("s__{}", "x".repeat(MAX_NAME_LEN - 3)));
    }

    #[test]
    fn proxy_uris_round_trip() {
        for uri in [
            "file:///tmp/a b.txt",
            "test://static/resource/1",
            "x:?q=1#f",
            "ü://ß",
        ] {
            let proxied = proxy_uri("srv", uri);
            assert!(proxied.starts_with("mcpproxy://srv/"), "{proxied}");
            assert_eq!(parse_proxy_uri(&proxied), Some(("srv", uri.to_string())));
        }
        assert_eq!(parse_proxy_uri("file:///x"), None);
        assert_eq!(parse_proxy_uri("mcpproxy:///x"), None);
    }

    #[test]
    fn template_matching_cases() {
        let cases = [
            (
                "test://static/resource/{id}",
                "test://static/resource/7",
                true,
            ),
            (
                "test://static/resource/{id}",
                "test://static/resource/7/8",
                false,
            ),
            (
                "test://static/resource/{id}",
                "test://static/other/7",
                false,
            ),
            ("file://{+path}", "file:///etc/hosts", true),
            ("repo://{owner}/{repo}/issues", "repo://a/b/issues", true),
            ("repo://{owner}/{repo}/issues", "repo://a/issues", false),
            (
                "search://items{?q,limit}",
                "search://items?q=x&limit=2",
                true,
            ),
            ("search://items{?q,limit}", "search://items", true),
            ("api://v1{/segments}", "api://v1/a", true),
            ("plain://exact", "plain://exact", true),
            ("plain://exact", "plain://exactly", false),
        ];
        for (template, uri, want) in cases {
            assert_eq!(template_matches(template, uri), want, "{template} ~ {uri}");
        }
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
