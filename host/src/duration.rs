//! Durations as people write them in mcpproxy's files (the config, policy scenarios): a
//! number of seconds (`30`, `1.5`, as mcpproxy-go writes them) or a humantime string (`"30s"`,
//! `"2m"`, `"1m30s"`, `"1500ms"`). One rule for every file. Pure; a leaf.

use std::time::Duration;

/// Reads a duration from text: a bare number is seconds, anything else humantime. `Err` holds a
/// message for the field's error.
pub fn parse_text(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return seconds(secs, text);
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("not a duration like \"30s\" or \"1m30s\": {text:?} ({e})"))
}

/// Reads a duration from a JSON value: a number of seconds, or a string as `parse_text` reads it.
pub fn parse_value(value: &serde_json::Value) -> Result<Duration, String> {
    match value {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(secs) => seconds(secs, &n.to_string()),
            None => Err(format!("not a number of seconds: {n}")),
        },
        serde_json::Value::String(s) => parse_text(s),
        other => Err(format!(
            "expected seconds or a string like \"30s\", found {}",
            type_name(other)
        )),
    }
}

fn seconds(secs: f64, spelled: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("not a valid number of seconds: {spelled}"))
}

/// How a JSON value's type reads in an error message.
pub fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_seconds_and_humantime_strings() {
        let cases = [
            (json!(30), Some(Duration::from_secs(30))),
            (json!(1.5), Some(Duration::from_millis(1500))),
            (json!("30s"), Some(Duration::from_secs(30))),
            (json!("2m"), Some(Duration::from_secs(120))),
            (json!("1m30s"), Some(Duration::from_secs(90))),
            (json!("250ms"), Some(Duration::from_millis(250))),
            (json!("1h 5m"), Some(Duration::from_secs(3900))),
            (json!("31"), Some(Duration::from_secs(31))),
            (json!(" 1.5 "), Some(Duration::from_millis(1500))),
            (json!(-1), None),
            (json!("-1"), None),
            (json!("soon"), None),
            (json!(true), None),
            (json!(null), None),
        ];
        for (value, want) in cases {
            assert_eq!(parse_value(&value).ok(), want, "{value}");
        }
    }
}
