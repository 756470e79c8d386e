//! Secret references in server entries: `${env:NAME}` (mcpproxy-go's form) is replaced by the
//! environment variable's value when the config is loaded, in `env`, `headers`, `args` and
//! `url`. The file keeps the reference (edits work on the raw document), and every value a
//! reference stood for is remembered so that what the daemon shows (errors, status, logs, the
//! auto-disable reason it writes back) says `${env:NAME}` instead. Pure but for the lookup.

/// What a loaded value came from.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// The reference as written, e.g. `${env:GITHUB_TOKEN}`.
    pub reference: String,
    pub value: String,
}

/// Never the value, even in a debug print.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

/// `text` with every `${env:NAME}` replaced by `lookup(NAME)`, and the secrets it held.
/// Other `${kind:...}` forms (mcpproxy-go's `${keyring:...}`) and unset variables are errors
/// that say what to write instead.
pub fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<Secret>), String> {
    let mut out = String::with_capacity(text.len());
    let mut secrets = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed `${{` in {text:?}"));
        };
        let inner = &after[..end];
        let reference = format!("${{{inner}}}");
        let (kind, name) = inner.split_once(':').unwrap_or(("", inner));
        match kind {
            "env" if is_variable_name(name) => {
                let value = lookup(name).ok_or_else(|| {
                    format!("{reference}: the environment variable {name} is not set")
                })?;
                out.push_str(&value);
                if !value.is_empty() {
                    secrets.push(Secret { reference, value });
                }
            }
            "env" => return Err(format!("{reference}: {name:?} is not a variable name")),
            "keyring" => {
                return Err(format!(
                    "{reference}: keyring references are not supported by mcpproxy; put the secret in an environment variable and write ${{env:NAME}}"
                ));
            }
            _ => {
                return Err(format!(
                    "{reference}: unknown reference; mcpproxy expands ${{env:NAME}} only"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((out, secrets))
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `text` with every secret's value replaced by its reference, longest values first (so a
/// secret inside another is not half-replaced).
pub fn redact(text: &str, secrets: &[Secret]) -> String {
    if secrets.is_empty() {
        return text.to_string();
    }
    let mut ordered: Vec<&Secret> = secrets.iter().collect();
    ordered.sort_by_key(|s| std::cmp::Reverse(s.value.len()));
    ordered.into_iter().fold(text.to_string(), |text, s| {
        text.replace(&s.value, &s.reference)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr3t".into()),
            "HOST" => Some("api.example.com".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expansion_cases() {
        let ok = |text: &str| expand(text, &env).map(|(out, _)| out);
        assert_eq!(ok("plain"), Ok("plain".into()));
        assert_eq!(ok("Bearer ${env:TOKEN}"), Ok("Bearer s3cr3t".into()));
        assert_eq!(
            ok("https://${env:HOST}/mcp?k=${env:TOKEN}"),
            Ok("https://api.example.com/mcp?k=s3cr3t".into())
        );
        assert_eq!(ok("${env:EMPTY}x"), Ok("x".into()));
        assert_eq!(ok("costs $5"), Ok("costs $5".into()));
        let err = |text: &str| expand(text, &env).unwrap_err();
        assert!(err("${env:MISSING}").contains("MISSING is not set"));
        assert!(err("${keyring:github}").contains("keyring references are not supported"));
        assert!(err("${vault:x}").contains("expands ${env:NAME} only"));
        assert!(err("${env:1X}").contains("not a variable name"));
        assert!(err("${env:TOKEN").contains("unclosed"));
    }

    #[test]
    fn secrets_are_redacted_back_to_their_references() {
        let (_, secrets) = expand("${env:TOKEN} ${env:HOST}", &env).unwrap();
        assert_eq!(secrets.len(), 2);
        let shown = redact(
            "error sending request for url (https://api.example.com/mcp?k=s3cr3t)",
            &secrets,
        );
        assert_eq!(
            shown,
            "error sending request for url (https://${env:HOST}/mcp?k=${env:TOKEN})"
        );
        assert_eq!(redact("nothing secret", &[]), "nothing secret");
        assert!(!format!("{secrets:?}").contains("s3cr3t"));
    }
}
