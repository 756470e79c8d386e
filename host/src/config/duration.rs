//! Duration fields as mcpproxy-go writes them: a number of seconds (`30`, `1.5`) or a
//! humantime string (`"30s"`, `"2m"`, `"1m30s"`). Pure.

use std::time::Duration;

/// Reads a duration value; `Err` holds a message for the field's error.
pub fn parse_duration(value: &serde_json::Value) -> Result<Duration, String> {
    match value {
        serde_json::Value::Number(n) => {
            let secs = n
                .as_f64()
                .ok_or_else(|| format!("not a number of seconds: {n}"))?;
            Duration::try_from_secs_f64(secs)
                .map_err(|_| format!("not a valid number of seconds: {n}"))
        }
        serde_json::Value::String(s) => humantime::parse_duration(s.trim())
            .map_err(|e| format!("not a duration like \"30s\" or \"1m30s\": {s:?} ({e})")),
        other => Err(format!(
            "expected seconds or a string like \"30s\", found {}",
            super::load::type_name(other)
        )),
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
            (json!(-1), None),
            (json!("soon"), None),
            (json!(true), None),
            (json!(null), None),
        ];
        for (value, want) in cases {
            assert_eq!(parse_duration(&value).ok(), want, "{value}");
        }
    }
}
